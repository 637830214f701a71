import {
  encodeModel,
  floatInitializer,
  floatValue,
  int64Initializer,
  node,
  seededValues,
} from "./onnxGraph.js"

export interface TinyImageEmbedder {
  readonly bytes: Uint8Array
  readonly size: number
  readonly dim: number
  /** `3·size² × dim` weights, row-major, applied to the flattened NCHW input. */
  readonly weights: Float32Array
}

/**
 * An image embedder in the CLIP-vision / DINOv2 ONNX contract, small enough for tests: input
 * `pixel_values` [batch, 3, size, size] float32 (NCHW, normalised), output `image_embeds` [batch, dim] =
 * flatten(input) · weights. Every input value has its own weight, so layout and normalisation show.
 */
export const buildTinyImageEmbedder = (options: { readonly size?: number; readonly dim?: number } = {}) => {
  const size = options.size ?? 8
  const dim = options.dim ?? 16
  const features = 3 * size * size
  const weights = seededValues(features * dim, 23, 1 / Math.sqrt(features))
  const bytes = encodeModel({
    input: floatValue("pixel_values", ["batch", 3, size, size]),
    output: floatValue("image_embeds", ["batch", dim]),
    initializers: [
      int64Initializer("flat_shape", [-1, features]),
      floatInitializer("weights", [features, dim], weights),
    ],
    nodes: [
      node("Reshape", ["pixel_values", "flat_shape"], ["flat"]),
      node("MatMul", ["flat", "weights"], ["image_embeds"]),
    ],
  })
  return { bytes, size, dim, weights } satisfies TinyImageEmbedder
}
