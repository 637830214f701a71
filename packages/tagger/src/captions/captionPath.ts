import { extname } from "node:path"

/** kohya's `--caption_extension` default. */
export const defaultCaptionExtension = ".txt"

/** `photos/a.png` → `photos/a.txt`: the caption file kohya and every tagger pair with an image. */
export const captionPathFor = (imagePath: string, extension = defaultCaptionExtension): string => {
  const ext = extension.startsWith(".") ? extension : `.${extension}`
  return imagePath.slice(0, imagePath.length - extname(imagePath).length) + ext
}
