#!/usr/bin/env node
import { mkdir, writeFile } from "node:fs/promises"
import { cpus } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { layer } from "@danlu/backend-onnx"
import { Effect } from "effect"
import { bundledBaseModelPath } from "./demo/bundledBaseModel.js"
import { basePreview } from "./demo/pretrain/basePreview.js"
import { defaultPretrainOptions, pretrainDemoModel, writeDemoBaseModel } from "./demo/pretrain/pretrain.js"
import { gridPng, pixelsPng } from "./demo/pretrain/sceneImages.js"

/**
 * `npm run pretrain-demo-model`: reproduces the demo's bundled base model from its seed on the ONNX Runtime
 * CPU backend, and writes previews (the VAE's reconstructions, samples of a few captions) into --previews.
 */
const { values } = parseArgs({
  options: {
    out: { type: "string" },
    previews: { type: "string" },
    "vae-steps": { type: "string" },
    "unet-steps": { type: "string" },
    images: { type: "string" },
  },
})
const options = {
  ...defaultPretrainOptions,
  ...(values["vae-steps"] ? { vaeSteps: Number(values["vae-steps"]) } : {}),
  ...(values["unet-steps"] ? { unetSteps: Number(values["unet-steps"]) } : {}),
  ...(values.images ? { images: Number(values.images) } : {}),
  log: (line: string) => process.stdout.write(`${line}\n`),
}
const out = values.out ?? bundledBaseModelPath()
const previews = values.previews ?? "danlu-pretrain-previews"

const program = Effect.gen(function* () {
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
      vae_steps: options.vaeSteps,
      unet_steps: options.unetSteps,
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
  const samples = yield* basePreview(out)
  yield* Effect.promise(() => writeFile(join(previews, "base-samples.png"), samples))
  options.log(`previews in ${previews}`)
})

Effect.runPromise(program.pipe(Effect.provide(layer))).catch((error: unknown) => {
  process.stderr.write(`pretrain-demo-model: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
