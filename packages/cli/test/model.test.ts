import { existsSync } from "node:fs"
import { copyFile, mkdtemp, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"

const fixtures = join(import.meta.dirname, "..", "..", "core", "test", "fixtures")

const run = runCli

/** A tiny kohya SD1 LoRA: one attn2.to_k module (768-wide context), rank 4, alpha 2, with ss_* metadata. */
const kohyaLora = (): Uint8Array => {
  const header = {
    __metadata__: {
      ss_base_model_version: "sd_v1",
      ss_network_dim: "4",
      ss_network_alpha: "2",
      ss_network_module: "networks.lora",
    },
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha": {
      dtype: "F32",
      shape: [],
      data_offsets: [0, 4],
    },
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": {
      dtype: "F32",
      shape: [4, 768],
      data_offsets: [4, 4 + 4 * 768 * 4],
    },
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight": {
      dtype: "F32",
      shape: [320, 4],
      data_offsets: [4 + 4 * 768 * 4, 4 + 4 * 768 * 4 + 320 * 4 * 4],
    },
  }
  const json = new TextEncoder().encode(JSON.stringify(header))
  const dataLength = 4 + 4 * 768 * 4 + 320 * 4 * 4
  const bytes = new Uint8Array(8 + json.length + dataLength)
  const view = new DataView(bytes.buffer)
  view.setBigUint64(0, BigInt(json.length), true)
  bytes.set(json, 8)
  view.setFloat32(8 + json.length, 2, true)
  return bytes
}

describe("danlu model inspect", () => {
  it("describes a LoRA in text and JSON", async () => {
    const dir = await mkdtemp(join(tmpdir(), "danlu-cli-model-"))
    const path = join(dir, "style.safetensors")
    await writeFile(path, kohyaLora())
    const text = await run(["model", "inspect", path])
    expect(text.ok).toBe(true)
    expect(text.output).toContain("LoRA (safetensors, kohya keys, lora) for SD 1.x")
    expect(text.output).toMatch(/rank:\s+4/)
    expect(text.output).toMatch(/alpha:\s+2/)
    const json = await run(["model", "inspect", path, "--json"])
    const report = JSON.parse(json.output)
    expect(report).toMatchObject({
      kind: "lora",
      lora: { family: "sd1", linearRanks: [4], alphas: [2], modules: 1 },
    })
  })

  it("describes a torch checkpoint", async () => {
    const result = await run(["model", "inspect", join(fixtures, "tiny-lightning.ckpt")])
    expect(result.ok).toBe(true)
    expect(result.output).toContain("checkpoint (pytorch-zip, original single-file layout)")
    expect(result.output).toMatch(/EMA weights:\s+yes/)
  })

  it("fails with one readable line on a missing or damaged file", async () => {
    const missing = await run(["model", "inspect", "/no/such/model.safetensors"])
    expect(missing.ok).toBe(false)
    expect(missing.error?.message).toBe("/no/such/model.safetensors: no such file or folder")
    const dir = await mkdtemp(join(tmpdir(), "danlu-cli-model-"))
    const damaged = join(dir, "cut.safetensors")
    await writeFile(damaged, kohyaLora().subarray(0, 200))
    const cut = await run(["model", "inspect", damaged])
    expect(cut.error?._tag).toBe("CheckpointFormatError")
    expect(cut.error?.message).toMatch(/truncated/)
  })
})

describe("danlu model convert", () => {
  it("converts, refuses to overwrite, then replaces with --force keeping a backup", async () => {
    const dir = await mkdtemp(join(tmpdir(), "danlu-cli-convert-"))
    const input = join(dir, "model.ckpt")
    await copyFile(join(fixtures, "tiny-state-dict.pt"), input)
    const output = join(dir, "model.safetensors")
    const first = await run(["model", "convert", input, output])
    expect(first.ok).toBe(true)
    expect(first.output).toBe(`wrote ${output}`)
    const converted = await readFile(output)
    const again = await run(["model", "convert", input, output])
    expect(again.ok).toBe(false)
    expect(again.error?.message).toBe(
      `${output} already exists; pass --force to replace it (the old file is kept as a backup)`,
    )
    const forced = await run(["model", "convert", input, output, "--force"])
    expect(forced.ok).toBe(true)
    expect(forced.output).toContain(`previous file kept as ${output}.bak`)
    expect(await readFile(`${output}.bak`)).toEqual(converted)
    const inspected = JSON.parse((await run(["model", "inspect", output, "--json"])).output)
    expect(inspected.format).toBe("safetensors")
    expect(inspected.checkpoint.total.tensors).toBe(17)
  })

  it("refuses a malicious pickle (os.system in __reduce__) without running it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "danlu-cli-evil-"))
    const result = await run([
      "model",
      "convert",
      join(fixtures, "malicious-os-system.ckpt"),
      join(dir, "out.safetensors"),
    ])
    expect(result.ok).toBe(false)
    expect(result.error?._tag).toBe("PickleRefused")
    expect(result.error?.message).toMatch(
      /uses the global posix\.system, which a tensor checkpoint never needs \(nothing was executed\)/,
    )
    expect(existsSync("/tmp/danlu-pwned")).toBe(false)
    expect(existsSync(join(dir, "out.safetensors"))).toBe(false)
  })
})
