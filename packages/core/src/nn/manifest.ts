import { formatShape, type Shape, sameShape } from "../tensor/shape.js"
import type { WeightEntry } from "./weightScope.js"

/** How a checkpoint's tensors line up with what a model asked for. */
export interface ManifestCheck {
  /** Keys the model needs that the checkpoint lacks. */
  readonly missing: ReadonlyArray<string>
  /** Keys of the checkpoint the model does not use (noise-schedule buffers, EMA copies, position ids). */
  readonly unused: ReadonlyArray<string>
  /** Keys present in both with different shapes, as `key: checkpoint [..] vs model [..]`. */
  readonly mismatched: ReadonlyArray<string>
}

/** Compares a model's weight manifest with the tensors of a checkpoint (by name and shape). */
export const checkManifest = (
  manifest: ReadonlyMap<string, WeightEntry>,
  tensors: ReadonlyArray<{ readonly name: string; readonly shape: Shape }>,
): ManifestCheck => {
  const present = new Map(tensors.map((t) => [t.name, t.shape]))
  const missing: Array<string> = []
  const mismatched: Array<string> = []
  for (const [key, entry] of manifest) {
    const shape = present.get(key)
    if (shape === undefined) missing.push(key)
    else if (!sameShape(shape, entry.shape))
      mismatched.push(`${key}: checkpoint ${formatShape(shape)} vs model ${formatShape(entry.shape)}`)
  }
  const unused = tensors.filter((t) => !manifest.has(t.name)).map((t) => t.name)
  return { missing, unused, mismatched }
}
