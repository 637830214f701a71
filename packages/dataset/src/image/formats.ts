import { extname } from "node:path"

/** What danlu trains on: the formats the guide asks for (PNG, JPG) plus WebP, as kohya reads them. */
export const trainableExtensions: ReadonlySet<string> = new Set([".png", ".jpg", ".jpeg", ".webp"])

/**
 * Images a user may drop into a folder that danlu lists and skips: kohya reads BMP, AVIF and JXL only
 * with extra plugins, and GIF/TIFF/HEIC are not training formats at all.
 */
export const otherImageExtensions: ReadonlySet<string> = new Set([
  ".bmp",
  ".gif",
  ".tif",
  ".tiff",
  ".avif",
  ".heic",
  ".heif",
  ".jxl",
  ".svg",
  ".ico",
  ".psd",
])

export const isTrainableImage = (path: string): boolean =>
  trainableExtensions.has(extname(path).toLowerCase())

export const isOtherImage = (path: string): boolean => otherImageExtensions.has(extname(path).toLowerCase())
