/**
 * A CLIP text transformer. `layout` says how its checkpoint keys are written: "hf" is transformers'
 * `CLIPTextModel` (`text_model.encoder.layers.N.self_attn.q_proj`), as SD1's and SDXL's CLIP-L are stored;
 * "openclip" is OpenCLIP's (`transformer.resblocks.N.attn.in_proj_weight`), as SD2's ViT-H and SDXL's bigG are.
 */
export interface ClipTextConfig {
  readonly layout: "hf" | "openclip"
  readonly vocabSize: number
  /** Context length (77). */
  readonly maxPositions: number
  readonly width: number
  readonly heads: number
  readonly layers: number
  readonly mlpWidth: number
  /** OpenAI CLIP-L uses quick_gelu `x·sigmoid(1.702x)`; OpenCLIP ViT-H/bigG use exact GELU. */
  readonly activation: "quick_gelu" | "gelu"
  /** Width of `text_projection` (the pooled embedding), or undefined when the model has none. */
  readonly projectionDim: number | undefined
}

/** OpenAI CLIP ViT-L/14 text model (SD1's text encoder, SDXL's first). */
export const clipL: ClipTextConfig = {
  layout: "hf",
  vocabSize: 49408,
  maxPositions: 77,
  width: 768,
  heads: 12,
  layers: 12,
  mlpWidth: 3072,
  activation: "quick_gelu",
  projectionDim: undefined,
}

/** OpenCLIP ViT-H/14 text model (SD2). */
export const openClipH: ClipTextConfig = {
  layout: "openclip",
  vocabSize: 49408,
  maxPositions: 77,
  width: 1024,
  heads: 16,
  layers: 24,
  mlpWidth: 4096,
  activation: "gelu",
  projectionDim: 1024,
}

/** OpenCLIP ViT-bigG/14 text model (SDXL's second text encoder, with the pooled projection). */
export const openClipBigG: ClipTextConfig = {
  layout: "openclip",
  vocabSize: 49408,
  maxPositions: 77,
  width: 1280,
  heads: 20,
  layers: 32,
  mlpWidth: 5120,
  activation: "gelu",
  projectionDim: 1280,
}

/** A tiny CLIP-L-layout text model for tests. */
export const tinyClipL: ClipTextConfig = {
  ...clipL,
  vocabSize: 64,
  maxPositions: 8,
  width: 32,
  heads: 2,
  layers: 3,
  mlpWidth: 64,
}

/** A tiny OpenCLIP-layout text model for tests (GELU, fused in-projection, a projection). */
export const tinyOpenClip: ClipTextConfig = {
  ...openClipH,
  vocabSize: 64,
  maxPositions: 8,
  width: 32,
  heads: 2,
  layers: 3,
  mlpWidth: 64,
  projectionDim: 24,
}
