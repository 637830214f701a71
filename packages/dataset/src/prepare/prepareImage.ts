import sharp, { type Sharp } from "sharp"
import { type BucketAssigner, type BucketAssignment, hasBucket } from "../buckets/assignBucket.js"
import { type CropOrigin, cropOrigin } from "../buckets/crop.js"
import { openImage, type Rgb } from "../image/decode.js"

export type OutputFormat = "png" | "jpeg" | "webp"

export interface ImageTransform {
  readonly assigner: BucketAssigner
  readonly background: Rgb
  /** Enlarge images smaller than their target (Lanczos); otherwise they are skipped. */
  readonly upscale: boolean
  readonly format: OutputFormat
  /** JPEG/WebP quality, 1–100. */
  readonly quality: number
}

/**
 * The sharp pipeline that turns an image into its training pixels: first frame, upright, 8-bit sRGB,
 * alpha flattened onto `background`, scaled to `assignment.resized` (Lanczos 3) and cut to the bucket
 * at `crop`. The prepare step encodes its output; the latent cache reads it raw.
 */
export const toBucket = (
  input: string | Buffer,
  assignment: BucketAssignment,
  crop: CropOrigin,
  background: Rgb,
): Sharp =>
  openImage(input)
    .flatten({ background })
    .resize(assignment.resized.width, assignment.resized.height, { fit: "fill", kernel: "lanczos3" })
    .extract({
      left: crop.left,
      top: crop.top,
      width: assignment.bucket.width,
      height: assignment.bucket.height,
    })

export type PreparedImage =
  | { readonly kind: "done"; readonly bytes: Uint8Array; readonly assignment: BucketAssignment }
  | { readonly kind: "too-small"; readonly assignment: BucketAssignment }
  /** A side under the bucket step without upscaling: its bucket would be 0 wide or high. */
  | { readonly kind: "no-bucket"; readonly assignment: BucketAssignment }

/**
 * One image made ready for training: first frame, upright, 8-bit sRGB, alpha flattened onto the
 * background, scaled to cover its bucket (Lanczos 3) and centre-cropped to it, encoded without any
 * metadata (sharp writes none unless asked).
 */
export const prepareImage = async (
  source: string | Uint8Array,
  transform: ImageTransform,
): Promise<PreparedImage> => {
  const input =
    typeof source === "string" ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength)
  const { autoOrient } = await sharp(input).metadata()
  const assignment = transform.assigner.assign(autoOrient)
  if (!hasBucket(assignment)) return { kind: "no-bucket", assignment }
  if (assignment.upscaled && !transform.upscale) return { kind: "too-small", assignment }
  const { left, top } = cropOrigin(assignment.resized, assignment.bucket)
  let pipeline = toBucket(input, assignment, { left, top }, transform.background)
  pipeline =
    transform.format === "png"
      ? pipeline.png()
      : transform.format === "jpeg"
        ? pipeline.jpeg({ quality: transform.quality, chromaSubsampling: "4:4:4" })
        : pipeline.webp({ quality: transform.quality })
  const bytes = await pipeline.toBuffer()
  return { kind: "done", bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), assignment }
}
