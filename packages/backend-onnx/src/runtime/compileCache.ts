import { createHash } from "node:crypto"
import { readFile } from "node:fs/promises"
import { arch, cpus } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type AnalyzedGraph, type CompositeOp, type Graph, graphSignature } from "@danlu/core"
import { writeFileAtomic } from "@danlu/core/node"
import { Effect } from "effect"
import type * as Ort from "onnxruntime-node"
import type { ModelBinding } from "../lower/lowerGraph.js"
import type { OrtModule } from "./ortRuntime.js"

/** Bumped when what the cache folder holds changes shape. */
const cacheFormat = 2

const coreUrl = (): string | undefined => {
  try {
    return import.meta.resolve("@danlu/core")
  } catch {
    return undefined
  }
}

let fingerprint: Promise<string> | undefined

/**
 * The code that turns a graph into a model: this package's module and core's (where composites are
 * decomposed). Built, each is one file whose contents change with any of its code (core's entry imports its
 * chunks by content hash), so a rebuilt or upgraded danlu misses rather than loading another lowering's model.
 */
export const codeFingerprint: Effect.Effect<string> = Effect.promise(() => {
  fingerprint ??= (async () => {
    const hash = createHash("sha256")
    for (const url of [import.meta.url, coreUrl()]) {
      const text = url?.startsWith("file:") ? await readFile(fileURLToPath(url)).catch(() => "") : ""
      hash.update(`${url ?? ""}\n`).update(text)
    }
    return hash.digest("hex")
  })()
  return fingerprint
})

/** Where a graph's optimised model and its binding are kept: `<key>.ort` and `<key>.json` in the folder. */
export interface CacheEntry {
  readonly model: string
  readonly binding: string
}

/**
 * The entry of `graph` in `dir`. The key hashes what decides the optimised model without lowering the graph:
 * the graph's signature, the fused composites, danlu's lowering code, the runtime, the options and the
 * machine (level `"all"` writes CPU-specific layouts). A hit skips lowering and optimisation both. `code` is
 * `codeFingerprint`.
 */
export const cacheEntry = (
  ort: OrtModule,
  dir: string,
  graph: Graph,
  fused: ReadonlySet<CompositeOp>,
  options: Ort.InferenceSession.SessionOptions,
  code: string,
): CacheEntry => {
  const hash = createHash("sha256")
  hash.update(
    JSON.stringify([
      cacheFormat,
      code,
      [...fused].sort(),
      ort.env.versions.common,
      options.executionProviders,
      options.graphOptimizationLevel,
      options.extra,
      arch(),
      cpus()[0]?.model,
    ]),
  )
  hash.update("\n").update(graphSignature(graph))
  const key = hash.digest("hex").slice(0, 32)
  return { model: join(dir, `${key}.ort`), binding: join(dir, `${key}.json`) }
}

type Names = ReadonlyMap<string, string>

interface SavedBinding {
  readonly format: number
  readonly inputs: Record<string, string>
  readonly states: Record<string, string>
  readonly outputs: Record<string, string>
  readonly updates: Record<string, string>
}

/** Writes what a loaded model needs to be run (its ONNX names), after the model itself is in place. */
export const saveBinding = (path: string, binding: ModelBinding): Effect.Effect<void> => {
  const saved: SavedBinding = {
    format: cacheFormat,
    inputs: Object.fromEntries(binding.inputNames),
    states: Object.fromEntries(binding.stateNames),
    outputs: Object.fromEntries(binding.outputNames),
    updates: Object.fromEntries(binding.updateNames),
  }
  const bytes = new TextEncoder().encode(JSON.stringify(saved))
  return writeFileAtomic(path, (sink) => sink.write(bytes), { existing: "replace" }).pipe(Effect.ignore)
}

const namesOf = (record: unknown): Map<string, string> | undefined => {
  if (typeof record !== "object" || record === null) return undefined
  const entries = Object.entries(record)
  return entries.every(([, v]) => typeof v === "string")
    ? new Map(entries as Array<[string, string]>)
    : undefined
}

const sameSet = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => {
  const union = new Set([...a, ...b])
  return (
    new Set(a).size === a.length &&
    new Set(b).size === b.length &&
    union.size === a.length &&
    union.size === b.length
  )
}

/**
 * The binding saved beside a model, if it is whole and fits the graph: every core input, state, output and
 * update has an ONNX name.
 */
export const loadBinding = (
  path: string,
  analyzed: AnalyzedGraph,
  describeNode: ModelBinding["describeNode"],
): Effect.Effect<ModelBinding | undefined> =>
  Effect.promise(async () => {
    const saved = await readFile(path, "utf8")
      .then((text) => JSON.parse(text) as Partial<SavedBinding>)
      .catch(() => undefined)
    if (saved?.format !== cacheFormat) return undefined
    const [inputNames, stateNames, outputNames, updateNames] = [
      namesOf(saved.inputs),
      namesOf(saved.states),
      namesOf(saved.outputs),
      namesOf(saved.updates),
    ]
    if (!inputNames || !stateNames || !outputNames || !updateNames) return undefined
    const covers = (names: Names, specs: ReadonlyArray<{ readonly name: string }>) =>
      names.size === specs.length && specs.every((spec) => names.has(spec.name))
    const fits =
      covers(inputNames, analyzed.inputs) &&
      covers(stateNames, analyzed.states) &&
      covers(outputNames, analyzed.outputs) &&
      covers(updateNames, analyzed.updates)
    return fits ? { inputNames, stateNames, outputNames, updateNames, describeNode } : undefined
  })

/** Whether a binding names exactly the inputs and outputs of the session it was saved with. */
export const bindsSession = (binding: ModelBinding, session: Ort.InferenceSession): boolean =>
  sameSet(session.inputNames, [...binding.inputNames.values(), ...binding.stateNames.values()]) &&
  sameSet(session.outputNames, [...binding.outputNames.values(), ...binding.updateNames.values()])
