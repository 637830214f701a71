import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"
import { writeCheckpoint, writeSquares } from "./trainFixtures.js"

let root = ""
let model = ""

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-init-"))
  model = join(root, "micro-sd1.safetensors")
  await writeCheckpoint(model)
})

/** A project made by `danlu init`, with images put where it says and the model and resolution set. */
const project = async (name: string, preset: string) => {
  const dir = join(root, name)
  const init = await runCli(["init", dir, "--preset", preset, "--trigger", "sks", "--base-model", model])
  expect(init.error).toBeUndefined()
  await writeSquares(join(dir, "training"), 4, 10)
  const path = join(dir, "config.toml")
  const toml = (await readFile(path, "utf8"))
    .replace(/^resolution = .*$/m, 'resolution = "64,64"')
    .replace(/^enable_bucket = true$/m, "enable_bucket = false")
  await writeFile(path, toml)
  return { dir, path }
}

describe("danlu init", () => {
  it.each(["anime", "style", "character", "realistic", "product"])(
    "writes the %s preset's config and the concept folder",
    async (preset) => {
      const dir = join(root, `init-${preset}`)
      const result = await runCli(["init", dir, "--preset", preset, "--trigger", "sks"])
      expect(result.error).toBeUndefined()
      expect(await readdir(join(dir, "training"))).toEqual(["10_sks"])
      const toml = await readFile(join(dir, "config.toml"), "utf8")
      expect(toml).toMatch(/^network_dim = \d+$/m)
      expect(toml).toContain(`train_data_dir = "${join(dir, "training")}"`)
      expect(result.output).toContain("danlu config check")
    },
  )

  it("refuses to replace a config without --force, and keeps a backup with it", async () => {
    const dir = join(root, "init-twice")
    expect((await runCli(["init", dir, "--trigger", "sks"])).error).toBeUndefined()
    expect((await runCli(["init", dir, "--trigger", "sks"])).error?.message).toMatch(/exists; add --force/)
    expect(
      (await runCli(["init", dir, "--trigger", "sks", "--force", "--preset", "anime"])).error,
    ).toBeUndefined()
    expect(await readdir(dir)).toContain("config.toml.bak")
  })
})

describe("danlu config check", () => {
  it("passes a preset pointed at a real model and images, with the step arithmetic", async () => {
    const { path } = await project("ok", "character")
    const result = await runCli(["config", "check", path])
    expect(result.error).toBeUndefined()
    // 4 images × 10 repeats / batch 2 = 20 steps per epoch, 10 epochs.
    expect(result.output).toMatch(
      /✓ .*config\.toml: model SD 1\.x.*4 images, 20 steps per epoch, 200 steps in all/,
    )
  })

  it("names each broken setting on its own line and fails", async () => {
    const { path } = await project("broken", "anime")
    const toml = await readFile(path, "utf8")
    await writeFile(
      path,
      `${toml.replace(/^pretrained_model_name_or_path = .*$/m, `pretrained_model_name_or_path = "${join(root, "nope.safetensors")}"`)}\nlr_warmup_steps = 5000\n`,
    )
    const result = await runCli(["config", "check", path, "--json"])
    expect(result.error?.message).toMatch(/problems? to fix before training/)
    const report = JSON.parse(result.output) as { problems: Array<{ level: string; key: string }> }
    const keys = report.problems.filter((p) => p.level === "error").map((p) => p.key)
    expect(keys).toContain("pretrained_model_name_or_path")
    expect(keys).toContain("lr_warmup_steps")
  })

  it("warns about images without captions under the configured extension", async () => {
    const { dir, path } = await project("captions", "style")
    const toml = await readFile(path, "utf8")
    await writeFile(path, toml.replace('caption_extension = ".txt"', 'caption_extension = ".caption"'))
    const result = await runCli(["config", "check", path])
    expect(result.error).toBeUndefined()
    expect(result.output).toMatch(
      /warning: caption_extension: 4 images have no \.caption caption.*have \.txt captions/,
    )
    expect(dir).toBeTruthy()
  })
})
