import { mkdtemp, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { buildTinyWd14Model, meanColourWeights, selectedTagsCsv } from "@danlu/tagger/testing"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"

const run = runCli

/** A tiny WD1.4-contract tagger whose tags follow the mean colour: red images get `red_hair` and a character. */
let model: string
let tagsCsv: string
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "danlu-cli-tagger-"))
  const tags = [
    { name: "general", category: 9, a: [0, 0, 0], bias: 0.5 },
    { name: "sensitive", category: 9, a: [0, 0, 4], bias: -2 },
    { name: "red_hair", category: 0, a: [-6, -6, 6], bias: -3 },
    { name: "blue_eyes", category: 0, a: [6, -6, -6], bias: -3 },
    { name: "^_^", category: 0, a: [0, 0, 0], bias: 0 },
    { name: "hatsune_miku_(append)", category: 4, a: [-4, -4, 6.2], bias: -4 },
  ] as const
  model = join(dir, "model.onnx")
  tagsCsv = join(dir, "selected_tags.csv")
  await writeFile(model, buildTinyWd14Model({ size: 4, ...meanColourWeights(4, tags) }).bytes)
  await writeFile(tagsCsv, selectedTagsCsv(tags))
})

const dataset = async () => {
  const dir = await mkdtemp(join(tmpdir(), "danlu-cli-tag-"))
  const png = (r: number, b: number) =>
    sharp({ create: { width: 6, height: 6, channels: 3, background: { r, g: 0, b } } })
      .png()
      .toBuffer()
  await writeFile(join(dir, "a.png"), await png(255, 0))
  await writeFile(join(dir, "b.png"), await png(0, 255))
  await writeFile(join(dir, "b.txt"), "my own caption")
  return dir
}

const read = (dir: string, name: string) => readFile(join(dir, name), "utf8")

describe("danlu tag", () => {
  it("tags a folder with the trigger word first, skipping captioned images", async () => {
    const dir = await dataset()
    const result = await run([
      "tag",
      dir,
      "--model",
      model,
      "--tags",
      tagsCsv,
      "--trigger",
      "he-tian-yi-lang",
    ])
    expect(result.error).toBeUndefined()
    expect(await read(dir, "a.txt")).toBe("he-tian-yi-lang, red hair, hatsune miku (append), ^_^")
    expect(await read(dir, "b.txt")).toBe("my own caption")
    expect(result.output).toMatch(
      /^tagged 1 of 2 images, 1 already captioned .* in [\d.]+ s \(preprocessing/m,
    )
    expect(result.output).toContain(`undo with: danlu tags undo ${dir}`)
  })

  it("passes every caption option through", async () => {
    const dir = await dataset()
    const result = await run([
      "tag",
      dir,
      "--model",
      model,
      "--tags",
      tagsCsv,
      "--existing",
      "overwrite",
      "--rating",
      "--escape",
      "--order",
      "csv",
      "--exclude",
      "^_^",
      "--max-tags",
      "1",
      "--general",
      "0.9",
      "--character",
      "0.5",
      "--batch",
      "1",
    ])
    expect(result.ok).toBe(true)
    expect(await read(dir, "a.txt")).toBe("sensitive, red hair")
    expect(await read(dir, "b.txt")).toBe("general, blue eyes")
    await run(["tags", "undo", dir])
    expect(await read(dir, "b.txt")).toBe("my own caption")
    const kohyaName = await run([
      "tag",
      dir,
      "--model",
      model,
      "--tags",
      tagsCsv,
      "--caption-extension",
      ".caption",
    ])
    expect(kohyaName.ok).toBe(true)
    expect(await read(dir, "a.caption")).toMatch(/red hair/)
  })

  it("fails with one line for a missing model, a mismatched tag list or an unknown provider", async () => {
    const dir = await dataset()
    const missing = await run(["tag", dir, "--model", join(dir, "none.onnx"), "--tags", tagsCsv])
    expect(missing.ok).toBe(false)
    // The tagger says what is wrong; the CLI adds the flag that fixes it.
    expect(missing.error?.message).toMatch(/^model not found: .*; pass its path with --model$/)

    const shortCsv = join(dir, "short.csv")
    await writeFile(shortCsv, selectedTagsCsv([{ name: "a", category: 0 }]))
    const mismatch = await run(["tag", dir, "--model", model, "--tags", shortCsv])
    expect(mismatch.error?.message).toMatch(/gives 6 outputs but .*short\.csv lists 1 tags/)

    const provider = await run(["tag", dir, "--model", model, "--tags", tagsCsv, "--provider", "warp-drive"])
    expect(provider.error).toMatchObject({ _tag: "ExecutionProviderUnavailable" })
    expect(provider.error?.message).toMatch(/; use --provider cpu$/)
    expect(provider.error?.message).not.toContain("\n")
  })
})
