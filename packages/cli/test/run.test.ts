import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"
import { writeCheckpoint, writeSquares } from "./trainFixtures.js"

let root = ""
let config = ""
let out = ""

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-run-"))
  const model = join(root, "micro-sd1.safetensors")
  await writeCheckpoint(model)
  const dir = join(root, "project")
  expect(
    (await runCli(["init", dir, "--preset", "character", "--trigger", "sks", "--base-model", model])).error,
  ).toBeUndefined()
  await writeSquares(join(dir, "training"), 4, 1)
  config = join(dir, "config.toml")
  out = join(dir, "output")
  // Small and short enough for a test: 16 px, 2 epochs, the UNet only.
  const toml = (await readFile(config, "utf8"))
    .replace(/^resolution = .*$/m, 'resolution = "16,16"')
    .replace(/^enable_bucket = true$/m, "enable_bucket = false")
    .replace(/^max_train_epochs = .*$/m, "max_train_epochs = 2")
    .replace(/^save_every_n_epochs = .*$/m, "save_every_n_epochs = 1")
    .replace(/^text_encoder_lr = .*$/m, "text_encoder_lr = 0")
    .replace(/^clip_skip = .*$/m, "")
  await writeFile(config, `${toml}\nnetwork_train_unet_only = true\n`)
})

describe("danlu run", () => {
  it("walks the steps from one config, and a second run continues instead of repeating", async () => {
    const first = await runCli(["run", config, "--weights", "0,0.8", "--skip", "dataset"])
    expect(first.ok, `${first.error?.message}\n${first.output}`).toBe(true)
    expect(first.output).toMatch(/━━ 3 选图 dataset \(skipped\)/)
    expect(first.output).toMatch(/━━ 6 炼丹 training\n\$ danlu train --config_file /)
    const files = await readdir(out)
    expect(files).toContain("sks.safetensors")
    expect(files).toContain("sks-000001.safetensors")
    const grid = files.find((f) => f.startsWith("xyz-"))
    expect(grid).toBeDefined()
    expect(await readdir(join(out, grid!))).toContain("index.json")

    const second = await runCli(["run", config, "--weights", "0,0.8", "--skip", "dataset,model"])
    expect(second.ok).toBe(true)
    expect(second.output).toMatch(/this run trained already/)
  }, 300_000)

  it("refuses an unknown step name in --skip", async () => {
    const result = await runCli(["run", config, "--skip", "painting"])
    expect(result.error?.message).toMatch(
      /--skip painting: the steps are model, dataset, tag, check, train, xyz/,
    )
  })
})
