/// <reference types="node" />
// Reads the golden files written by tools/reference/*.py (PyTorch in f64 on synthetic weights).
import { Effect } from "effect"
import { openSafetensors } from "../io/safetensors.js"
import { toHostTensor } from "../io/storedTensor.js"
import type { Shape } from "../tensor/shape.js"

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

/**
 * Where the golden files live: `packages/core/test/golden` of a danlu checkout. They ship with the
 * repository, not the npm package; this file sits two folders below the package root both as source
 * (`src/testing`) and as build output (`dist/testing`).
 */
export const goldenFolder: URL = new URL("../../test/golden/", import.meta.url)

/** Loads `<folder>/<name>.safetensors`; f32 tensors as f64 values, i32 as they are. */
export const loadGolden = (name: string, folder: URL = goldenFolder): Promise<Golden> => {
  return Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        // Imported here so the testing entry point still loads where Node's modules do not exist.
        const { openFileSource } = yield* Effect.promise(() => import("../platform/node/fileSource.js"))
        const { fileURLToPath } = yield* Effect.promise(() => import("node:url"))
        const path = fileURLToPath(new URL(`${name}.safetensors`, folder))
        const file = yield* openSafetensors(yield* openFileSource(path))
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
    ),
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
