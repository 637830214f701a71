import { Effect, Exit, Scope } from "effect"
import type { Graph } from "../graph/graph.js"
import { graphKey } from "../graph/graphKey.js"
import type { Program } from "./Backend.js"

interface Entry {
  readonly key: string
  readonly program: Program
  readonly scope: Scope.Closeable
  users: number
  lastUsed: number
}

/** Programs shared by graph shape, with idle ones kept for reuse up to a limit. */
export interface ProgramCache {
  /**
   * The program of `graph`'s shape: a cached one, or the one `make` compiles (in a scope the cache owns).
   * The caller holds it until its scope closes (the program stays cached, idle) or until it runs the
   * program's `release` (the program is freed as soon as no other holder uses it).
   */
  compile<E>(
    graph: Graph,
    make: Effect.Effect<Program, E, Scope.Scope>,
  ): Effect.Effect<Program, E, Scope.Scope>
  /** Frees every cached program, held or idle; for the end of the backend's own scope. */
  readonly close: Effect.Effect<void>
  /** How many programs the cache holds now, held or idle. */
  readonly size: () => number
}

/**
 * A cache of compiled programs keyed by `graphKey`, so that a run which comes back to a bucket shape
 * reuses its program. At most `idleLimit` programs that nobody holds are kept; beyond that the least
 * recently used idle one is freed.
 */
export const makeProgramCache = (idleLimit: number): ProgramCache => {
  const entries = new Map<string, Entry>()
  let clock = 0

  const free = (entry: Entry) =>
    Effect.suspend(() => {
      if (entries.get(entry.key) === entry) entries.delete(entry.key)
      return Scope.close(entry.scope, Exit.void)
    })

  const evictIdle = Effect.suspend(() => {
    const idle = [...entries.values()].filter((e) => e.users === 0).sort((a, b) => a.lastUsed - b.lastUsed)
    return Effect.forEach(idle.slice(0, Math.max(0, idle.length - idleLimit)), free, { discard: true })
  })

  const acquire = <E>(key: string, make: Effect.Effect<Program, E, Scope.Scope>) =>
    Effect.gen(function* () {
      let entry = entries.get(key)
      if (entry === undefined) {
        const scope = yield* Scope.make()
        const program = yield* Scope.provide(scope)(make).pipe(
          Effect.onError(() => Scope.close(scope, Exit.void)),
        )
        const raced = entries.get(key)
        if (raced === undefined) {
          entry = { key, program, scope, users: 0, lastUsed: 0 }
          entries.set(key, entry)
        } else {
          // Another compile of the same shape finished first while this one was compiling.
          yield* Scope.close(scope, Exit.void)
          entry = raced
        }
      }
      entry.users++
      entry.lastUsed = clock++
      return entry
    })

  return {
    compile: (graph, make) =>
      Effect.gen(function* () {
        const key = graphKey(graph)
        let held = true
        const drop = (entry: Entry, freeNow: boolean) =>
          Effect.suspend(() => {
            if (!held) return Effect.void
            held = false
            entry.users--
            return freeNow && entry.users === 0 ? free(entry) : evictIdle
          })
        const entry = yield* Effect.acquireRelease(acquire(key, make), (e) => drop(e, false))
        const program: Program = { ...entry.program, release: drop(entry, true) }
        return program
      }),
    close: Effect.suspend(() => {
      const all = [...entries.values()]
      entries.clear()
      return Effect.forEach(all, (e) => Scope.close(e.scope, Exit.void), { discard: true })
    }),
    size: () => entries.size,
  }
}
