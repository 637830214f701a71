// Reads the golden files written by tools/reference/*.py (PyTorch on synthetic weights).
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { memorySource, openSafetensors, toHostTensor } from "../../src/io/index.js"
import type { Shape } from "../../src/tensor/shape.js"

export interface GoldenTensor {
  readonly shape: Shape
  readonly data: Float64Array | Int32Array
}

export interface Golden {
  readonly tensors: ReadonlyMap<string, GoldenTensor>
  readonly metadata: Readonly<Record<string, string>>
  get(name: string): GoldenTensor
  /** `{key: shape}` of every parameter of the PyTorch model. */
  readonly keys: Readonly<Record<string, ReadonlyArray<number>>>
}

export const loadGolden = (name: string): Golden => {
  const path = fileURLToPath(new URL(`../golden/${name}.safetensors`, import.meta.url))
  const bytes = new Uint8Array(readFileSync(path))
  return Effect.runSync(
    Effect.gen(function* () {
      const file = yield* openSafetensors(memorySource(bytes, path))
      const tensors = new Map<string, GoldenTensor>()
      for (const info of file.tensors) {
        const host = toHostTensor(yield* file.read(info.name))
        const data =
          host.dtype === "i32" ? Int32Array.from(host.data) : Float64Array.from(host.data as Float32Array)
        tensors.set(info.name, { shape: info.shape, data })
      }
      return {
        tensors,
        metadata: file.metadata,
        keys: JSON.parse(file.metadata.keys ?? "{}") as Record<string, ReadonlyArray<number>>,
        get: (tensorName: string) => {
          const t = tensors.get(tensorName)
          if (!t) throw new Error(`golden ${name} has no tensor ${tensorName}`)
          return t
        },
      } satisfies Golden
    }),
  )
}

/** The largest |a - b| relative to the largest |b| (a scale-aware error for whole tensors). */
export const relativeError = (actual: ArrayLike<number>, expected: ArrayLike<number>): number => {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY
  let worst = 0
  let scale = 0
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!))
    scale = Math.max(scale, Math.abs(expected[i]!))
  }
  return worst / (scale || 1)
}
