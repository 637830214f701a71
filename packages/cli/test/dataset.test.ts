import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import sharp from "sharp"
import { describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"

const run = runCli

const trainingFolder = async () => {
  const root = await mkdtemp(join(tmpdir(), "danlu-cli-dataset-"))
  await mkdir(join(root, "10_cat"))
  const image = (width: number, height: number, r: number) =>
    sharp({ create: { width, height, channels: 3, background: { r, g: 255 - r, b: 90 } } })
  await writeFile(join(root, "10_cat", "a.png"), await image(800, 600, 10).png().toBuffer())
  await writeFile(join(root, "10_cat", "a.txt"), "1girl, smile")
  await writeFile(join(root, "10_cat", "b.jpg"), await image(600, 900, 200).jpeg().toBuffer())
  await writeFile(join(root, "10_cat", "broken.png"), "not a png")
  return root
}

describe("danlu dataset check", () => {
  it("prints a table by default and the report with --json", async () => {
    const root = await trainingFolder()
    const table = await run(["dataset", "check", root])
    expect(table.ok).toBe(true)
    expect(table.output).toMatch(/10_cat\s+10\s+2\s+20\s+10\s+1/)
    expect(table.output).toContain("cannot decode (1)")
    const json = await run(["dataset", "check", root, "--json", "--batch-size", "4", "--size", "512x768"])
    const report = JSON.parse(json.output)
    expect(report.concepts[0]).toMatchObject({ folderName: "10_cat", images: 2, stepsPerEpoch: 5 })
    expect(report.settings.sizing).toEqual({ mode: "fixed", size: { width: 512, height: 768 } })
    expect(report.captions.missing).toEqual([join(root, "10_cat", "b.jpg")])
  })

  it("fails with one plain line for a missing folder or a bad flag", async () => {
    const missing = await run(["dataset", "check", "/no/such/danlu/dir"])
    expect(missing.ok).toBe(false)
    expect(missing.error).toMatchObject({ _tag: "DatasetError" })
    expect(missing.error?.message).toBe("training folder /no/such/danlu/dir does not exist; check the path")
    const badSize = await run(["dataset", "check", "/tmp", "--size", "huge"])
    expect(badSize.error).toMatchObject({
      _tag: "UserError",
      message: "--size huge is not a size; write e.g. 512x768 (multiples of 8)",
    })
  })
})

describe("danlu dataset prepare", () => {
  it("writes a prepared copy and reports what it skipped", async () => {
    const root = await trainingFolder()
    const out = join(await mkdtemp(join(tmpdir(), "danlu-cli-out-")), "prepared")
    const result = await run([
      "dataset",
      "prepare",
      root,
      "--out",
      out,
      "--size",
      "512x512",
      "--format",
      "png",
      "--json",
    ])
    expect(result.ok).toBe(true)
    const parsed = JSON.parse(result.output)
    expect(parsed.images.map((i: { file: string }) => i.file).sort()).toEqual([
      "10_cat/a.png",
      "10_cat/b.png",
    ])
    expect(parsed.skipped).toHaveLength(1)
    expect((await readdir(join(out, "10_cat"))).sort()).toEqual(["a.png", "a.txt", "b.png"])
    expect((await sharp(join(out, "10_cat", "b.png")).metadata()).width).toBe(512)
  })

  it("rejects a bad colour and an output inside the training folder", async () => {
    const root = await trainingFolder()
    const colour = await run(["dataset", "prepare", root, "--out", "/tmp/x", "--background", "sky"])
    expect(colour.error?.message).toBe(
      "--background sky is not a colour; write white, #ffffff or 255,255,255",
    )
    const inside = await run(["dataset", "prepare", root, "--out", join(root, "out")])
    expect(inside.error?.message).toMatch(/must lie outside the training folder/)
  })

  it("refuses to replace a caption tagged in an earlier output unless --force, which keeps a backup", async () => {
    const root = await trainingFolder()
    const out = join(await mkdtemp(join(tmpdir(), "danlu-cli-out-")), "prepared")
    expect((await run(["dataset", "prepare", root, "--out", out])).ok).toBe(true)
    await writeFile(join(out, "10_cat", "a.txt"), "cat-lora, 1girl")
    const again = await run(["dataset", "prepare", root, "--out", out])
    expect(again.error?.message).toMatch(
      /^1 caption in .* was changed since the earlier prepare .* pass --force/,
    )
    expect(await readFile(join(out, "10_cat", "a.txt"), "utf8")).toBe("cat-lora, 1girl")
    expect((await run(["dataset", "prepare", root, "--out", out, "--force"])).ok).toBe(true)
    const inside = await run(["dataset", "prepare", root, "--out", join(root, "prepared")])
    expect(inside.error).toMatchObject({ _tag: "DatasetError", problem: "output-inside-source" })
    expect(inside.error?.message).toMatch(/must lie outside the training folder .*; choose another --out$/)
    expect(await readFile(join(out, "10_cat", "a.txt.bak"), "utf8")).toBe("cat-lora, 1girl")
  })
})
