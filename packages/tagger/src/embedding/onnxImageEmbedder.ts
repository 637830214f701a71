import type { ImageEmbedder, RawImage } from "@danlu/dataset"
import { Effect, type Scope } from "effect"
import sharp from "sharp"
import { type ExecutionProviderUnavailable, TaggerInputError, TaggerModelError } from "../errors.js"
import { describeShape, numericDim, openOnnxSession, tensorShape } from "../model/onnxSession.js"
import type { LoadModelOptions } from "../model/wd14Model.js"

/** Per-channel RGB values. */
export type ChannelValues = readonly [r: number, g: number, b: number]

/** OpenAI CLIP's pixel mean and std (`CLIPImageProcessor`'s `image_mean`/`image_std`), for 0–1 pixels. */
export const clipImageMean: ChannelValues = [0.48145466, 0.4578275, 0.40821073]
export const clipImageStd: ChannelValues = [0.26862954, 0.26130258, 0.27577711]
/** ImageNet's, which DINOv2 and most torchvision backbones use. */
export const imagenetMean: ChannelValues = [0.485, 0.456, 0.406]
export const imagenetStd: ChannelValues = [0.229, 0.224, 0.225]

/**
 * Cosine distance at or below which an embedded cell counts as a copy of a training image: similarity
 * 0.95, where CLIP and DINOv2 embeddings of one picture re-encoded, resized or slightly cropped land,
 * and new pictures of the same subject stay below.
 */
export const defaultEmbedderCopyDistance = 0.05

export interface ImageEmbedderOptions extends LoadModelOptions {
  /** Subtracted from the 0–1 RGB pixels (default CLIP's). */
  readonly mean?: ChannelValues
  /** Divides them after (default CLIP's). */
  readonly std?: ChannelValues
  /** The side images are brought to when the model does not fix its input size (default 224). */
  readonly size?: number
  /** Overrides {@link defaultEmbedderCopyDistance}. */
  readonly copyDistance?: number
  /** Images per run when the model takes any batch (default 16). */
  readonly batch?: number
}

/** Outputs preferred over the first one, as Hugging Face's CLIP and DINOv2 exports name them. */
const embeddingOutputs = ["image_embeds", "pooler_output"]

/**
 * The model's input for one image: CLIP's preprocessing (bicubic resize of the shorter side to the
 * model's size, centre crop), RGB in 0–1, normalised per channel, planar (CHW) at `offset`.
 */
export const embedderInput = async (
  image: RawImage,
  size: { readonly width: number; readonly height: number },
  mean: ChannelValues,
  std: ChannelValues,
  target: Float32Array,
  offset = 0,
): Promise<void> => {
  const { data } = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels },
  })
    .removeAlpha()
    .resize(size.width, size.height, { kernel: "cubic", fit: "cover", position: "centre" })
    .raw()
    .toBuffer({ resolveWithObject: true })
  const plane = size.width * size.height
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      target[offset + c * plane + i] = (data[i * 3 + c]! / 255 - mean[c]!) / std[c]!
    }
  }
}

/**
 * Opens an image-embedding model in ONNX for the xyz diagnosis' memorisation check (CLIP vision,
 * DINOv2 and the like): input [batch, 3, H, W] float32 (NCHW) at the size the model declares (or
 * `size`), normalised with `mean`/`std`; the output `image_embeds` or `pooler_output` when there is one,
 * else the first, read as one vector per image — [batch, D], or token 0 (the class token) of
 * [batch, tokens, D]. Cells and training images are compared by cosine distance. The session is
 * released when the scope closes.
 */
export const loadImageEmbedder = (
  path: string,
  options: ImageEmbedderOptions = {},
): Effect.Effect<
  ImageEmbedder,
  TaggerInputError | TaggerModelError | ExecutionProviderUnavailable,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const missing = new TaggerInputError({
      message: `image-embedding model not found: ${path} (export CLIP vision or DINOv2 to ONNX)`,
      option: "embedder",
    })
    const { ort, session } = yield* openOnnxSession(path, options, missing, "the image embedder")
    const name = path.split(/[\\/]/).pop() ?? path
    const inputName = session.inputNames[0]
    const inputShape = tensorShape(session.inputMetadata[0])
    if (inputName === undefined || inputShape === undefined || session.outputNames.length === 0) {
      return yield* new TaggerModelError({
        message: `${path} is not an image embedder: it has no tensor input or output`,
      })
    }
    const fallback = options.size ?? 224
    const height = numericDim(inputShape[2]) ?? fallback
    const width = numericDim(inputShape[3]) ?? fallback
    if (inputShape.length !== 4 || (numericDim(inputShape[1]) ?? 3) !== 3) {
      return yield* new TaggerModelError({
        message: `${path} is not an image embedder: its input is ${describeShape(inputShape)}, expected [batch, 3, height, width] (NCHW)`,
      })
    }
    const outputName =
      embeddingOutputs.find((wanted) => session.outputNames.includes(wanted)) ?? session.outputNames[0]!
    const fixedBatch = numericDim(inputShape[0])
    const batch = fixedBatch ?? options.batch ?? 16
    const mean = options.mean ?? clipImageMean
    const std = options.std ?? clipImageStd
    const imageSize = 3 * width * height

    const embedBatch = async (images: ReadonlyArray<RawImage>): Promise<Array<Float32Array>> => {
      const rows = fixedBatch ?? images.length
      const pixels = new Float32Array(rows * imageSize)
      await Promise.all(
        images.map((image, i) => embedderInput(image, { width, height }, mean, std, pixels, i * imageSize)),
      )
      const results = await session.run({
        [inputName]: new ort.Tensor("float32", pixels, [rows, 3, height, width]),
      })
      const output = results[outputName]
      const dims = output?.dims ?? []
      if (!(output?.data instanceof Float32Array) || (dims.length !== 2 && dims.length !== 3)) {
        throw new TaggerModelError({
          message: `${path}: output "${outputName}" is not a float32 [batch, D] or [batch, tokens, D] embedding`,
        })
      }
      const perImage = dims.slice(1).reduce((a, b) => a * b, 1)
      const length = dims[dims.length - 1]!
      return images.map((_, i) => output.data.slice(i * perImage, i * perImage + length) as Float32Array)
    }

    const embed = async (images: ReadonlyArray<RawImage>): Promise<ReadonlyArray<Float32Array>> => {
      const vectors: Array<Float32Array> = []
      for (let start = 0; start < images.length; start += batch) {
        vectors.push(...(await embedBatch(images.slice(start, start + batch))))
      }
      return vectors
    }
    return { name, embed, copyDistance: options.copyDistance ?? defaultEmbedderCopyDistance }
  })
