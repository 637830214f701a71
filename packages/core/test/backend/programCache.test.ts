import { Effect, Exit, Layer, Scope } from "effect"
import { describe, expect, it } from "vitest"
import {
  Backend,
  type Graph,
  hostTensor,
  makeProgramCache,
  openSession,
  type Program,
  Reference,
  T,
} from "../../src/index.js"

/** A graph of one shape per `n`, built from fresh tensors each call. */
const graphOf = (n: number): Graph => {
  const x = T.input("x", [n])
  return { outputs: { y: T.mul(x, x) } }
}

/** A stand-in compiler that counts compiles and frees. */
const counted = () => {
  const log: Array<string> = []
  const make = (name: string): Effect.Effect<Program, never, Scope.Scope> =>
    Effect.gen(function* () {
      log.push(`compile ${name}`)
      yield* Effect.addFinalizer(() => Effect.sync(() => log.push(`free ${name}`)))
      const program: Program = {
        analyzed: undefined as never,
        inputs: [],
        states: [],
        outputs: [],
        run: () => Effect.succeed({}),
      }
      return program
    })
  return { log, make }
}

const inScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const value = yield* Scope.provide(scope)(effect)
    return { value, close: Scope.close(scope, Exit.void) }
  })

describe("program cache", () => {
  it("shares one program among graphs of the same shape and keeps it idle after the scope closes", async () => {
    const { log, make } = counted()
    const cache = makeProgramCache(1)
    await Effect.runPromise(
      Effect.gen(function* () {
        const a = yield* inScope(cache.compile(graphOf(2), make("a")))
        const b = yield* inScope(cache.compile(graphOf(2), make("b")))
        yield* a.close
        yield* b.close
        const again = yield* inScope(cache.compile(graphOf(2), make("c")))
        yield* again.close
      }),
    )
    expect(log).toEqual(["compile a"])
    expect(cache.size()).toBe(1)
  })

  it("frees the least recently used idle program beyond the limit", async () => {
    const { log, make } = counted()
    const cache = makeProgramCache(2)
    await Effect.runPromise(
      Effect.gen(function* () {
        for (const n of [2, 3, 2, 4]) {
          const held = yield* inScope(cache.compile(graphOf(n), make(`${n}`)))
          yield* held.close
        }
      }),
    )
    expect(log).toEqual(["compile 2", "compile 3", "compile 4", "free 3"])
  })

  it("release frees the program once its last holder lets go, and only once", async () => {
    const { log, make } = counted()
    const cache = makeProgramCache(4)
    await Effect.runPromise(
      Effect.gen(function* () {
        const a = yield* inScope(cache.compile(graphOf(2), make("a")))
        const b = yield* inScope(cache.compile(graphOf(2), make("b")))
        yield* a.value.release!
        yield* a.value.release!
        expect(log).toEqual(["compile a"])
        yield* b.value.release!
        expect(log).toEqual(["compile a", "free a"])
        yield* a.close
        yield* b.close
        expect(cache.size()).toBe(0)
      }),
    )
  })

  it("close frees held and idle programs", async () => {
    const { log, make } = counted()
    const cache = makeProgramCache(4)
    await Effect.runPromise(
      Effect.gen(function* () {
        const idle = yield* inScope(cache.compile(graphOf(2), make("idle")))
        yield* idle.close
        yield* inScope(cache.compile(graphOf(3), make("held")))
        yield* cache.close
      }),
    )
    expect(log.slice(2).sort()).toEqual(["free held", "free idle"])
  })

  it("the reference backend reuses a released shape's slots and still computes each run's inputs", async () => {
    const backend = Reference.makeReferenceBackend()
    const results = await Effect.runPromise(
      Effect.gen(function* () {
        const out: Array<Float32Array> = []
        const programs: Array<Program> = []
        for (const value of [3, 5]) {
          yield* Effect.scoped(
            Effect.gen(function* () {
              const program = yield* backend.compile(graphOf(2))
              programs.push(program)
              const y = yield* program.run({ x: hostTensor("f32", [2], Float32Array.of(value, -value)) })
              out.push(y.y!.data as Float32Array)
            }),
          )
        }
        expect(programs[1]!.analyzed).toBe(programs[0]!.analyzed)
        return out
      }),
    )
    expect(results).toEqual([Float32Array.of(9, 9), Float32Array.of(25, 25)])
  })

  it("the Promise API's release frees the program; close frees what is left", async () => {
    const { log, make } = counted()
    const cache = makeProgramCache(4)
    const backend = {
      ...Reference.makeReferenceBackend(),
      compile: (g: Graph) => cache.compile(g, make(`${g.outputs.y!.shape}`)),
    }
    const session = await openSession(Layer.succeed(Backend, backend))
    const released = await session.compile(graphOf(2))
    await session.compile(graphOf(3))
    await released.release()
    expect(log).toEqual(["compile 2", "compile 3", "free 2"])
    await session.close()
    expect(cache.size()).toBe(1)
  })
})
