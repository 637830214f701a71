import type { RawImage } from "../image/decode.js"

/**
 * A user-supplied image-embedding model (e.g. DINOv2 or CLIP vision exported to ONNX, run by the
 * caller's backend). danlu only calls it; the same model must embed the cells and the training images.
 */
export interface ImageEmbedder {
  /** Shown in reports, e.g. the model's file name. */
  readonly name: string
  /** One vector per image, in order. */
  readonly embed: (images: ReadonlyArray<RawImage>) => Promise<ReadonlyArray<Float32Array>>
  /** Cosine distance (1 − cosine similarity) at or below which a cell counts as a copy. */
  readonly copyDistance: number
}

/** 1 − cosine similarity; 1 when either vector is zero. */
export const cosineDistance = (a: Float32Array, b: Float32Array): number => {
  if (a.length !== b.length) throw new RangeError(`embeddings differ in length: ${a.length} and ${b.length}`)
  let dot = 0
  let aa = 0
  let bb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!
    aa += a[i]! * a[i]!
    bb += b[i]! * b[i]!
  }
  return aa === 0 || bb === 0 ? 1 : 1 - dot / Math.sqrt(aa * bb)
}

export interface Nearest {
  /** The training image's id (usually its path). */
  readonly id: string
  readonly distance: number
}

/** The candidate closest to `item` under `distance`, or undefined when there are none. */
export const nearest = <T>(
  item: T,
  candidates: ReadonlyArray<{ readonly id: string; readonly value: T }>,
  distance: (a: T, b: T) => number,
): Nearest | undefined => {
  let best: Nearest | undefined
  for (const candidate of candidates) {
    const d = distance(item, candidate.value)
    if (best === undefined || d < best.distance) best = { id: candidate.id, distance: d }
  }
  return best
}
