import { mkdir, mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  type SdArchitecture,
  syntheticCheckpoint,
  tensorsInMemory,
  tinyArchitecture,
  writeSafetensors,
} from "@danlu/core"
import { openModelFile, writeFileAtomic } from "@danlu/core/node"
import { Effect } from "effect"
import sharp from "sharp"

/**
 * The smallest model in SD1's layout that still has every part (one UNet level, one text layer), so
 * training tests compile in seconds; the architecture travels in the checkpoint's metadata.
 */
export const microSd1: SdArchitecture = (() => {
  const tiny = tinyArchitecture("sd1")
  return {
    ...tiny,
    unet: {
      ...tiny.unet,
      channelMult: [1],
      numResBlocks: 1,
      attentionResolutions: [1],
      transformerDepth: [1],
    },
    text: [{ ...tiny.text[0]!, layers: 1 }],
  }
})()

/** SD2's and SDXL's layouts shrunk like {@link microSd1}; two text layers, so the penultimate one exists. */
export const microArchitecture = (family: "sd2" | "sdxl"): SdArchitecture => {
  const tiny = tinyArchitecture(family)
  return {
    ...tiny,
    unet: {
      ...tiny.unet,
      channelMult: [1],
      numResBlocks: 1,
      attentionResolutions: [1],
      transformerDepth: [1],
      transformerDepthMiddle: 1,
    },
    text: tiny.text.map((text) => ({ ...text, layers: 2 })),
  }
}

export const writeCheckpoint = (path: string, architecture: SdArchitecture = microSd1, seed = 3) => {
  const { tensors, metadata } = syntheticCheckpoint(architecture, seed)
  return Effect.runPromise(
    writeFileAtomic(path, (sink) => writeSafetensors(sink, tensorsInMemory(tensors, metadata)), {
      existing: "refuse",
    }),
  )
}

/** `count` 32×32 images of a red square on grey (the concept) in a kohya `<repeats>_sks square` folder. */
export const writeSquares = async (root: string, count = 4, repeats = 5) => {
  const concept = join(root, `${repeats}_sks square`)
  await mkdir(concept, { recursive: true })
  for (let i = 0; i < count; i++) {
    const size = 10 + 3 * (i % 4)
    const square = await sharp({
      create: { width: size, height: size, channels: 3, background: { r: 220, g: 30, b: 30 } },
    })
      .png()
      .toBuffer()
    const png = await sharp({
      create: { width: 32, height: 32, channels: 3, background: { r: 128, g: 128, b: 128 } },
    })
      .composite([{ input: square, left: 4 + (i % 8), top: 6 + (i % 5) }])
      .png()
      .toBuffer()
    await writeFile(join(concept, `img${i}.png`), png)
    await writeFile(join(concept, `img${i}.txt`), "sks, red square, grey background")
  }
  return concept
}

/** `count` 32×32 RGBA images (a red square on grey) whose alpha channel is `alpha` everywhere, no captions. */
/** A fresh temporary folder holding the micro SD1 checkpoint and `images` squares (2 repeats) to train on. */
export const microTrainingSet = async (prefix: string, images = 4) => {
  const root = await mkdtemp(join(tmpdir(), prefix))
  const model = join(root, "micro-sd1.safetensors")
  const data = join(root, "train")
  await writeCheckpoint(model)
  await writeSquares(data, images, 2)
  return { root, model, data }
}

export const writeCutouts = async (folder: string, count: number, alpha: number) => {
  await mkdir(folder, { recursive: true })
  for (let i = 0; i < count; i++) {
    const png = await sharp({
      create: {
        width: 32,
        height: 32,
        channels: 4,
        background: { r: 128, g: 128, b: 128, alpha: alpha / 255 },
      },
    })
      .composite([
        {
          input: {
            create: {
              width: 12,
              height: 12,
              channels: 4,
              background: { r: 220, g: 30, b: 30, alpha: alpha / 255 },
            },
          },
          left: 4 + i,
          top: 6,
        },
      ])
      .png()
      .toBuffer()
    await writeFile(join(folder, `cut${i}.png`), png)
  }
  return folder
}

/** A model file's metadata. */
export const metadataOf = (path: string) =>
  Effect.runPromise(Effect.scoped(Effect.map(openModelFile(path), (file) => file.metadata)))

/** Every tensor of a file as bytes, by name: equal files hold equal bits. */
export const tensorBytes = (path: string) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const file = yield* openModelFile(path)
        const out: Record<string, Uint8Array> = {}
        for (const info of file.tensors) out[info.name] = (yield* file.read(info.name)).bytes
        return out
      }),
    ),
  )
