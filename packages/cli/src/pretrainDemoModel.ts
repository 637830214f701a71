#!/usr/bin/env node
import { mkdir, writeFile } from "node:fs/promises"
import { cpus } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { layer } from "@danlu/backend-onnx"
import { Effect } from "effect"
import { bundledBaseModelPath } from "./demo/bundledBaseModel.js"
import { basePreview } from "./demo/pretrain/basePreview.js"
import { colourSource } from "./demo/pretrain/colourSource.js"
import { defaultPretrainOptions, pretrainDemoModel, writeDemoBaseModel } from "./demo/pretrain/pretrain.js"
import { gridPng, pixelsPng } from "./demo/pretrain/sceneImages.js"

/**
 * `npm run pretrain-demo-model`: reproduces the demo's bundled base model from its seed on the ONNX Runtime
 * CPU backend, and writes previews (the VAE's reconstructions, samples of a few captions) into --previews.
 * `--evaluate model.safetensors` only samples and measures an existing checkpoint.
 */
const { values } = parseArgs({
  options: {
    out: { type: "string" },
    previews: { type: "string" },
    "vae-steps": { type: "string" },
    "unet-steps": { type: "string" },
    images: { type: "string" },
    "vae-lr": { type: "string" },
    "unet-lr": { type: "string" },
    batch: { type: "string" },
    "vae-batch": { type: "string" },
    evaluate: { type: "string" },
    "vae-from": { type: "string" },
    "vae-crop": { type: "string" },
    "multires-noise-iterations": { type: "string" },
    "multires-noise-discount": { type: "string" },
  },
})
const options = {
  ...defaultPretrainOptions,
  ...(values["vae-steps"] ? { vaeSteps: Number(values["vae-steps"]) } : {}),
  ...(values["unet-steps"] ? { unetSteps: Number(values["unet-steps"]) } : {}),
  ...(values.images ? { images: Number(values.images) } : {}),
  ...(values["vae-lr"] ? { vaeLr: Number(values["vae-lr"]) } : {}),
  ...(values["unet-lr"] ? { unetLr: Number(values["unet-lr"]) } : {}),
  ...(values.batch ? { batch: Number(values.batch) } : {}),
  ...(values["vae-batch"] ? { vaeBatch: Number(values["vae-batch"]) } : {}),
  ...(values["vae-from"] ? { vaeFrom: values["vae-from"] } : {}),
  ...(values["vae-crop"] ? { vaeCrop: Number(values["vae-crop"]) } : {}),
  ...(values["multires-noise-iterations"]
    ? { multiresNoiseIterations: Number(values["multires-noise-iterations"]) }
    : {}),
  ...(values["multires-noise-discount"]
    ? { multiresNoiseDiscount: Number(values["multires-noise-discount"]) }
    : {}),
  log: (line: string) => process.stdout.write(`${line}\n`),
}
const out = values.out ?? bundledBaseModelPath()
const previews = values.previews ?? "danlu-pretrain-previews"

/** Samples the checkpoint at `path` into the previews and logs how well it follows its captions. */
const preview = (path: string) =>
  Effect.gen(function* () {
    const samples = yield* basePreview(path)
    yield* Effect.promise(async () => {
      await mkdir(previews, { recursive: true })
      await writeFile(join(previews, "base-samples.png"), samples.png)
    })
    const { shapes, backgrounds } = samples.following
    options.log(
      `caption following: shape colour right in ${shapes.right}/${shapes.of} pictures (chance 1/10), background in ${backgrounds.right}/${backgrounds.of} (chance 1/6)`,
    )
    const source = yield* colourSource(path)
    options.log(
      `background colour at the first step (t = 999): the captions move it ${(100 * source.captionSpread).toFixed(1)}% of the real spread; the seed gives ${(100 * source.seedShare).toFixed(1)}% of its variance`,
    )
  })

const pretrain = Effect.gen(function* () {
  const started = performance.now()
  const model = yield* pretrainDemoModel(options)
  const total = (performance.now() - started) / 1000
  yield* writeDemoBaseModel(out, model, {
    "modelspec.title": "danlu demo base (procedural shapes)",
    "danlu.pretraining": JSON.stringify({
      seed: options.seed,
      images: options.images,
      size: options.size,
      batch: options.batch,
      vae_batch: options.vaeBatch,
      vae_crop: options.vaeCrop,
      vae_steps: options.vaeSteps,
      unet_steps: options.unetSteps,
      vae_lr: options.vaeLr,
      unet_lr: options.unetLr,
      ...(options.multiresNoiseIterations > 0
        ? {
            multires_noise_iterations: options.multiresNoiseIterations,
            multires_noise_discount: options.multiresNoiseDiscount,
          }
        : {}),
    }),
  })
  options.log(
    `wrote ${out}: VAE ${model.seconds.vae.toFixed(0)} s, encoding ${model.seconds.encode.toFixed(0)} s, UNet + text encoder ${model.seconds.unet.toFixed(0)} s, ${total.toFixed(0)} s in all on ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}`,
  )
  yield* Effect.promise(async () => {
    await mkdir(previews, { recursive: true })
    const tiles: Array<Buffer> = []
    const image = 3 * options.size * options.size
    for (let i = 0; i < 8; i++) tiles.push(await pixelsPng(model.originals, options.size, i * image))
    for (let i = 0; i < 8; i++) tiles.push(await pixelsPng(model.reconstructions, options.size, i * image))
    await writeFile(join(previews, "vae-reconstructions.png"), await gridPng(tiles, options.size, 8, 4))
  })
  yield* preview(out)
  options.log(`previews in ${previews}`)
})

const program = values.evaluate === undefined ? pretrain : preview(values.evaluate)

Effect.runPromise(program.pipe(Effect.provide(layer))).catch((error: unknown) => {
  process.stderr.write(`pretrain-demo-model: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
