/// <reference types="node" />
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import {
  FileAccessError,
  memorySink,
  memorySource,
  OutputExists,
  type StoredTensor,
  type TensorFile,
  tensorsInMemory,
  writeSafetensors,
} from "../../src/io/index.js"
import {
  convertCheckpoint,
  inspectModel,
  inspectModelPath,
  openModelFile,
  writeFileAtomic,
} from "../../src/platform/node/index.js"

const folder = mkdtempSync(join(tmpdir(), "danlu-node-io-"))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
const fixtures = join(import.meta.dirname, "..", "fixtures")

const allTensors = (path: string) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const file: TensorFile = yield* openModelFile(path)
        const out: Record<string, StoredTensor> = {}
        for (const info of file.tensors) out[info.name] = yield* file.read(info.name)
        return out
      }),
    ),
  )

const failureOf = async <A, E>(effect: Effect.Effect<A, E>) => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return (exit.cause.reasons.find((reason) => reason._tag === "Fail") as { error: unknown } | undefined)
    ?.error
}

describe("ckpt → safetensors conversion", () => {
  it("keeps every tensor's name, dtype, shape and bytes (views become contiguous)", async () => {
    const input = join(fixtures, "tiny-state-dict.pt")
    const output = join(folder, "tiny.safetensors")
    await convertCheckpoint(input, output)
    const before = await allTensors(input)
    const after = await allTensors(output)
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort())
    for (const [name, tensor] of Object.entries(before)) {
      expect(after[name]!.dtype, name).toBe(tensor.dtype)
      expect(after[name]!.shape, name).toEqual(tensor.shape)
      expect([...after[name]!.bytes], name).toEqual([...tensor.bytes])
    }
  })

  it("refuses to overwrite without permission, and keeps a backup with it", async () => {
    const input = join(fixtures, "tiny-lightning.ckpt")
    const output = join(folder, "existing.safetensors")
    writeFileSync(output, "precious")
    const refused = await failureOf(
      Effect.tryPromise({ try: () => convertCheckpoint(input, output), catch: (error) => error }),
    )
    expect(refused).toBeInstanceOf(OutputExists)
    // What is wrong, with no command-line flag: the CLI adds --force.
    expect((refused as OutputExists).message).toBe(`${output} already exists`)
    expect(readFileSync(output, "utf8")).toBe("precious")
    const result = await convertCheckpoint(input, output, { overwrite: true })
    expect(result.backup).toBe(`${output}.bak`)
    expect(readFileSync(`${output}.bak`, "utf8")).toBe("precious")
    expect(Object.keys(await allTensors(output))).toContain("model.diffusion_model.input_blocks.0.0.weight")
    const second = await convertCheckpoint(input, output, { overwrite: true })
    expect(second.backup).toBe(`${output}.bak.1`)
  })

  it("leaves no temporary file and no output when a write fails", async () => {
    const output = join(folder, "failed.safetensors")
    const error = await failureOf(
      writeFileAtomic(
        output,
        (sink) => Effect.andThen(sink.write(new Uint8Array([1, 2, 3])), Effect.fail("boom" as const)),
        {
          existing: "refuse",
        },
      ),
    )
    expect(error).toBe("boom")
    expect(existsSync(output)).toBe(false)
    expect(readdirSync(folder).filter((name) => name.includes("failed"))).toEqual([])
  })

  it("refuses a folder as the output, with or without overwrite, and leaves no temporary file", async () => {
    const input = join(fixtures, "tiny-lightning.ckpt")
    const output = join(folder, "a-folder")
    mkdirSync(output)
    for (const overwrite of [false, true]) {
      const error = await failureOf(
        Effect.tryPromise({ try: () => convertCheckpoint(input, output, { overwrite }), catch: (e) => e }),
      )
      expect(error).toBeInstanceOf(FileAccessError)
      expect((error as FileAccessError).message).toMatch(
        /a-folder: is a folder; name the file to write inside it/,
      )
    }
    expect(readdirSync(folder).filter((name) => name.includes("a-folder"))).toEqual(["a-folder"])
  })

  it("reports a missing input as a readable file error", async () => {
    const error = await failureOf(inspectModelPath(join(folder, "nope.ckpt")))
    expect(error).toBeInstanceOf(FileAccessError)
    expect((error as FileAccessError).message).toMatch(/nope\.ckpt: no such file or folder/)
  })
})

const safetensorsBytes = (tensors: Record<string, { shape: Array<number> }>): Uint8Array => {
  const stored: Record<string, StoredTensor> = {}
  for (const [name, { shape }] of Object.entries(tensors)) {
    stored[name] = { dtype: "F16", shape, bytes: new Uint8Array(shape.reduce((a, b) => a * b, 1) * 2) }
  }
  const sink = memorySink()
  Effect.runSync(writeSafetensors(sink, tensorsInMemory(stored)))
  return sink.bytes()
}

describe("diffusers folders", () => {
  it("detects an SD 2 v-prediction folder from unet shapes and the scheduler config, with sharded text encoder", async () => {
    const root = join(folder, "sd2-diffusers")
    for (const part of ["unet", "vae", "text_encoder", "scheduler"])
      mkdirSync(join(root, part), { recursive: true })
    writeFileSync(join(root, "model_index.json"), JSON.stringify({ _class_name: "StableDiffusionPipeline" }))
    writeFileSync(
      join(root, "unet", "diffusion_pytorch_model.safetensors"),
      safetensorsBytes({
        "conv_in.weight": { shape: [320, 4, 3, 3] },
        "time_embedding.linear_1.weight": { shape: [1280, 320] },
        "down_blocks.0.attentions.0.proj_in.weight": { shape: [320, 320] },
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight": { shape: [320, 1024] },
      }),
    )
    writeFileSync(
      join(root, "vae", "diffusion_pytorch_model.fp16.safetensors"),
      safetensorsBytes({ "encoder.conv_in.weight": { shape: [128, 3, 3, 3] } }),
    )
    writeFileSync(
      join(root, "text_encoder", "model-00001-of-00002.safetensors"),
      safetensorsBytes({ "text_model.embeddings.token_embedding.weight": { shape: [16, 1024] } }),
    )
    writeFileSync(
      join(root, "text_encoder", "model-00002-of-00002.safetensors"),
      safetensorsBytes({ "text_model.final_layer_norm.weight": { shape: [1024] } }),
    )
    writeFileSync(
      join(root, "text_encoder", "model.safetensors.index.json"),
      JSON.stringify({
        weight_map: {
          "text_model.embeddings.token_embedding.weight": "model-00001-of-00002.safetensors",
          "text_model.final_layer_norm.weight": "model-00002-of-00002.safetensors",
        },
      }),
    )
    writeFileSync(
      join(root, "scheduler", "scheduler_config.json"),
      JSON.stringify({ prediction_type: "v_prediction" }),
    )
    const inspection = await inspectModel(root)
    expect(inspection.kind).toBe("checkpoint")
    if (inspection.kind !== "checkpoint") return
    const info = inspection.checkpoint
    expect(info.layout).toBe("diffusers-folder")
    expect(info.family).toBe("sd2")
    expect(info.prediction).toBe("v")
    expect(info.predictionBasis).toMatch(/scheduler_config/)
    expect(info.textEncoders).toEqual(["OpenCLIP ViT-H/14"])
    expect(info.components.text_encoder?.parameters).toBe(16 * 1024 + 1024)
    expect(info.components.vae?.tensors).toBe(1)
  })

  it("refuses a folder that is not a diffusers model", async () => {
    const empty = join(folder, "empty")
    mkdirSync(empty)
    const error = await failureOf(inspectModelPath(empty))
    expect((error as Error).message).toMatch(/not a diffusers model/)
  })
})

describe("memory and file sources agree", () => {
  it("reads the same header from a file and from memory", async () => {
    const bytes = safetensorsBytes({ a: { shape: [3] } })
    const path = join(folder, "same.safetensors")
    writeFileSync(path, bytes)
    const fromFile = await Effect.runPromise(Effect.scoped(openModelFile(path)))
    const { openTensorFile } = await import("../../src/io/index.js")
    const fromMemory = await Effect.runPromise(openTensorFile(memorySource(bytes)))
    expect(fromFile.tensors).toEqual(fromMemory.tensors)
  })
})
