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
  /** Tokens per image of a `[batch, tokens, dim]` output; undefined for `[batch, dim]`. */
  readonly tokens: number | undefined
  /** `3·size² × (tokens ?? 1)·dim` weights, row-major, applied to the flattened NCHW input. */
  readonly weights: Float32Array
}

/**
 * An image embedder in the CLIP-vision / DINOv2 ONNX contract, small enough for tests: input
 * `pixel_values` [batch, 3, size, size] float32 (NCHW, normalised), output flatten(input) · weights as
 * `image_embeds` [batch, dim], or with `tokens` as `last_hidden_state` [batch, tokens, dim] (token 0
 * standing for the class token). Every input value has its own weight, so layout and normalisation show.
 */
export const buildTinyImageEmbedder = (
  options: { readonly size?: number; readonly dim?: number; readonly tokens?: number } = {},
): TinyImageEmbedder => {
  const size = options.size ?? 8
  const dim = options.dim ?? 16
  const { tokens } = options
  const features = 3 * size * size
  const width = (tokens ?? 1) * dim
  const weights = seededValues(features * width, 23, 1 / Math.sqrt(features))
  const output = tokens === undefined ? "image_embeds" : "last_hidden_state"
  const bytes = encodeModel({
    input: floatValue("pixel_values", ["batch", 3, size, size]),
    output: floatValue(output, tokens === undefined ? ["batch", dim] : ["batch", tokens, dim]),
    initializers: [
      int64Initializer("flat_shape", [-1, features]),
      floatInitializer("weights", [features, width], weights),
      ...(tokens === undefined ? [] : [int64Initializer("token_shape", [-1, tokens, dim])]),
    ],
    nodes: [
      node("Reshape", ["pixel_values", "flat_shape"], ["flat"]),
      ...(tokens === undefined
        ? [node("MatMul", ["flat", "weights"], [output])]
        : [
            node("MatMul", ["flat", "weights"], ["tokens_flat"]),
            node("Reshape", ["tokens_flat", "token_shape"], [output]),
          ]),
    ],
  })
  return { bytes, size, dim, tokens, weights }
}
