/// <reference types="node" />
import { mkdtempSync, rmSync } from "node:fs"
import { open } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import {
  detectCheckpoint,
  memorySink,
  memorySource,
  openSafetensors,
  type StoredTensor,
  safetensorsHeaderBytes,
  type TensorInfo,
  tensorByteLength,
  tensorsInMemory,
  writeSafetensors,
} from "../../src/io/index.js"
import { openModelFile } from "../../src/platform/node/index.js"
import { toF16Bits } from "../../src/tensor/halfFloat.js"
import { sd2Layout, sd15Layout, sdxlLayout } from "../fixtures/sdLayouts.js"

const folder = mkdtempSync(join(tmpdir(), "danlu-detect-"))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

/**
 * Writes a full-size safetensors file: the real header, then a hole. Truncating to the full length makes a
 * sparse file, so gigabytes of zeros cost no disk. `values` are written where their tensors live.
 */
const sparseCheckpoint = async (
  name: string,
  tensors: ReadonlyArray<TensorInfo>,
  values: Record<string, Uint8Array> = {},
  metadata: Record<string, string> = {},
): Promise<string> => {
  const path = join(folder, name)
  const { bytes, order } = safetensorsHeaderBytes(tensors, metadata)
  const handle = await open(path, "w")
  await handle.write(bytes, 0, bytes.length, 0)
  let offset = bytes.length
  for (const info of order) {
    const data = values[info.name]
    if (data !== undefined) await handle.write(data, 0, data.length, offset)
    offset += tensorByteLength(info)
  }
  await handle.truncate(offset)
  await handle.close()
  return path
}

const detectFile = (path: string) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(openModelFile(path), detectCheckpoint)))

const f16 = (values: ReadonlyArray<number>) => new Uint8Array(new Uint16Array(values.map(toF16Bits)).buffer)

describe("full-size checkpoints (real headers, sparse data)", () => {
  it("detects SD 1.5 with its component parameter counts", async () => {
    const info = await detectFile(await sparseCheckpoint("sd15.safetensors", sd15Layout()))
    expect(info.layout).toBe("ldm")
    expect(info.family).toBe("sd1")
    expect(info.prediction).toBe("epsilon")
    expect(info.unet).toMatchObject({
      contextDim: 768,
      modelChannels: 320,
      linearProjection: false,
      variant: "standard",
    })
    expect(info.textEncoders).toEqual(["CLIP ViT-L/14"])
    expect(info.components.unet?.parameters).toBe(859_520_964)
    expect(info.components.vae?.parameters).toBe(83_653_863)
    expect(info.components.text_encoder?.parameters).toBe(123_060_480)
    expect(info.components.unet?.dtypes).toEqual({ F16: info.components.unet?.tensors })
    expect(info.components.text_encoder?.dtypes.I64).toBe(1)
    expect(info.hasEma).toBe(false)
  })

  it("detects SD 2 and applies the v-prediction heuristic to the real bias", async () => {
    const layout = sd2Layout()
    const probe = "model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias"
    const spread = Array.from({ length: 320 }, (_, i) => (i % 2 === 0 ? 0.2 : -0.2))
    const v = await detectFile(await sparseCheckpoint("sd2-v.safetensors", layout, { [probe]: f16(spread) }))
    expect(v.family).toBe("sd2")
    expect(v.textEncoders).toEqual(["OpenCLIP ViT-H/14"])
    expect(v.prediction).toBe("v")
    expect(v.predictionBasis).toMatch(/heuristic/)
    const eps = await detectFile(
      await sparseCheckpoint("sd2-base.safetensors", layout, { [probe]: f16(spread.map((x) => x / 10)) }),
    )
    expect(eps.prediction).toBe("epsilon")
    const declared = await detectFile(
      await sparseCheckpoint("sd2-meta.safetensors", layout, {}, { "modelspec.prediction_type": "v" }),
    )
    expect(declared.prediction).toBe("v")
    expect(declared.predictionBasis).toMatch(/modelspec/)
  })

  it("detects SDXL base", async () => {
    const info = await detectFile(await sparseCheckpoint("sdxl.safetensors", sdxlLayout()))
    expect(info.family).toBe("sdxl")
    expect(info.unet).toMatchObject({ contextDim: 2048, admInChannels: 2816 })
    expect(info.textEncoders).toEqual(["CLIP ViT-L/14", "OpenCLIP ViT-bigG/14"])
    expect(info.components.unet?.parameters).toBe(2_567_463_684)
    expect(info.components.text_encoder_2?.parameters).toBe(694_659_840)
    expect(info.prediction).toBe("epsilon")
  })
})

/** A header-only tensor file for layouts whose data the detector never reads. */
const headerOnly = (tensors: ReadonlyArray<TensorInfo>, metadata: Record<string, string> = {}) => {
  const zeros: Record<string, StoredTensor> = {}
  for (const info of tensors) zeros[info.name] = { ...info, bytes: new Uint8Array(tensorByteLength(info)) }
  const sink = memorySink()
  Effect.runSync(writeSafetensors(sink, tensorsInMemory(zeros, metadata)))
  return Effect.runSync(openSafetensors(memorySource(sink.bytes(), "tiny.safetensors")))
}

/** The SD layout with every tensor shrunk to a scalar except the ones detection reads shapes from. */
const shapesOnly = (layout: ReadonlyArray<TensorInfo>): Array<TensorInfo> =>
  layout.map((info) =>
    /input_blocks\.0\.0\.weight|attn2\.to_k\.weight|proj_in\.weight|label_emb\.0\.0\.weight/.test(info.name)
      ? info
      : { ...info, shape: [] },
  )

describe("variants and extras", () => {
  it("reports inpainting, EMA weights and a mismatch between metadata and weights", async () => {
    const layout = shapesOnly(sd15Layout("F32", { inChannels: 9 }))
    layout.push({ name: "model_ema.decay", dtype: "F32", shape: [] })
    layout.push({
      name: "model_ema.diffusion_modelinput_blocks00weight",
      dtype: "F32",
      shape: [320, 9, 3, 3],
    })
    const info = await Effect.runPromise(
      detectCheckpoint(headerOnly(layout, { "modelspec.architecture": "stable-diffusion-xl-v1-base" })),
    )
    expect(info.family).toBe("sd1")
    expect(info.unet?.variant).toBe("inpainting")
    expect(info.hasEma).toBe(true)
    expect(info.components.ema?.parameters).toBe(1 + 320 * 9 * 9)
    expect(info.notes.join()).toMatch(/metadata says SDXL but the weights are SD 1.x/)
  })

  it("says unknown when nothing identifies the model", async () => {
    const info = await Effect.runPromise(
      detectCheckpoint(headerOnly([{ name: "foo.weight", dtype: "F32", shape: [2] }])),
    )
    expect(info.layout).toBe("unknown")
    expect(info.family).toBeUndefined()
    expect(info.prediction).toBe("unknown")
  })

  it("falls back to the text encoder keys when the UNet is missing", async () => {
    const layout = shapesOnly(sd2Layout("F32")).filter((t) => !t.name.startsWith("model.diffusion_model."))
    const info = await Effect.runPromise(detectCheckpoint(headerOnly(layout)))
    expect(info.family).toBe("sd2")
    expect(info.familyBasis).toMatch(/text encoder/)
    expect(info.prediction).toBe("unknown")
  })

  it("detects a diffusers UNet file by its own key names", async () => {
    const info = await Effect.runPromise(
      detectCheckpoint(
        headerOnly([
          { name: "conv_in.weight", dtype: "F16", shape: [320, 4, 3, 3] },
          { name: "time_embedding.linear_1.weight", dtype: "F16", shape: [1280, 320] },
          { name: "down_blocks.1.attentions.0.proj_in.weight", dtype: "F16", shape: [640, 640] },
          {
            name: "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight",
            dtype: "F16",
            shape: [640, 2048],
          },
          { name: "add_embedding.linear_1.weight", dtype: "F16", shape: [1280, 2816] },
        ]),
      ),
    )
    expect(info.layout).toBe("diffusers-unet")
    expect(info.family).toBe("sdxl")
  })
})
