import { readImageRgb } from "@danlu/dataset"
import { Effect } from "effect"
import { TaggerFileError } from "../errors.js"
import { wd14Input } from "./wd14Input.js"

/** Decodes an image file (EXIF-rotated, sRGB, alpha onto white) and prepares it for a WD1.4 model. */
export const readWd14Input = (path: string, size: number): Effect.Effect<Float32Array, TaggerFileError> =>
  readImageRgb(path).pipe(
    Effect.mapError((error) => new TaggerFileError({ path, message: error.message })),
    Effect.flatMap((image) =>
      Effect.tryPromise({
        try: () => wd14Input(image, size),
        catch: (cause) =>
          new TaggerFileError({ path, message: `cannot resize ${path}: ${(cause as Error).message}` }),
      }),
    ),
  )
