import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import sharp from "sharp"
import { describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"

const run = runCli

const captions: Record<string, string> = {
  "10_ayu/1": "1girl, pink hair, smile",
  "10_ayu/2": "1girl, pink hair, long hair, pink hair",
  "10_ayu/3": "1girl, blue hair, smile",
  "5_dog/1": "dog, grass",
}

const dataset = async () => {
  const dir = await mkdtemp(join(tmpdir(), "danlu-cli-tags-"))
  const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: "#888" } })
    .png()
    .toBuffer()
  for (const [name, text] of Object.entries(captions)) {
    await mkdir(join(dir, name.split("/")[0]!), { recursive: true })
    await writeFile(join(dir, `${name}.png`), png)
    await writeFile(join(dir, `${name}.txt`), text)
  }
  return dir
}

const read = (dir: string, name: string) => readFile(join(dir, `${name}.txt`), "utf8")

describe("danlu tags", () => {
  it("lists tag frequencies per concept and in total", async () => {
    const dir = await dataset()
    const result = await run(["tags", "list", dir])
    expect(result.output).toMatch(
      /^10_ayu: 3 captions, 3 images\n {2}3 {2}100% {2}1girl\n {2}2 {3}67% {2}pink hair/,
    )
    expect(result.output).toMatch(/^5_dog: 1 captions, 1 images$/m)
    expect(result.output).toMatch(/^total: 4 captions, 4 images$/m)
  })

  it("reads captions by kohya's --caption-extension, and still by the older --caption-ext", async () => {
    const dir = await dataset()
    await writeFile(join(dir, "5_dog/1.caption"), "dog, snow")
    const kohya = await run(["tags", "list", join(dir, "5_dog"), "--caption-extension", ".caption"])
    expect(kohya.output).toMatch(/^ {2}1 {2}100% {2}snow$/m)
    const older = await run(["tags", "list", join(dir, "5_dog"), "--caption-ext", ".caption"])
    expect(older.output).toBe(kohya.output)
    const noDot = await run(["tags", "list", dir, "--caption-extension", "caption"])
    expect(noDot.error?.message).toBe('--caption-extension must start with a dot, like .txt, got "caption"')
  })

  it("shows a dry-run diff, then writes, then undoes", async () => {
    const dir = await dataset()
    const dry = await run(["tags", "replace", dir, "pink hair", "pink-hair", "--dry-run"])
    expect(dry.output).toContain("10_ayu/1.txt: -pink hair, +pink-hair")
    expect(dry.output).toContain("dry run: 2 of 4 captions would change")
    expect(await read(dir, "10_ayu/1")).toBe(captions["10_ayu/1"])

    const done = await run(["tags", "remove", dir, "smile, long_hair"])
    expect(done.output).toContain("3 of 4 captions changed; undo with: danlu tags undo")
    expect(await read(dir, "10_ayu/2")).toBe("1girl, pink hair, pink hair")

    const undone = await run(["tags", "undo", dir])
    expect(undone.output).toBe('undid "tags remove": restored 3 captions')
    expect(await read(dir, "10_ayu/2")).toBe(captions["10_ayu/2"])
    const again = await run(["tags", "undo", dir])
    expect(again.error).toMatchObject({ _tag: "NothingToUndo" })
  })

  it("adds, moves to front, dedupes and replaces by regex", async () => {
    const dir = await dataset()
    await run(["tags", "add", dir, "ayu", "--front", "--no-recursive"])
    expect(await read(dir, "10_ayu/1")).toBe(captions["10_ayu/1"])
    await run(["tags", "add", join(dir, "10_ayu"), "ayu", "--front"])
    expect(await read(dir, "10_ayu/1")).toBe("ayu, 1girl, pink hair, smile")
    await run(["tags", "move-to-front", dir, "smile"])
    expect(await read(dir, "10_ayu/3")).toBe("smile, ayu, 1girl, blue hair")
    await run(["tags", "dedupe", dir])
    expect(await read(dir, "10_ayu/2")).toBe("ayu, 1girl, pink hair, long hair")
    await run(["tags", "replace", dir, "^(\\w+) hair$", "$1-hair", "--regex"])
    expect(await read(dir, "10_ayu/2")).toBe("ayu, 1girl, pink-hair, long-hair")
    const bad = await run(["tags", "replace", dir, "(", "x", "--regex"])
    expect(bad.error?.message).toMatch(/^not a valid regular expression/)
  })

  it("prune lists a concept's inherent tags, then removes the named ones and binds the trigger word", async () => {
    const dir = await dataset()
    const shown = await run(["tags", "prune", dir, "--trigger", "ayu", "--share", "60"])
    expect(shown.output).toContain("10_ayu: 3 captions; in ≥ 60%: 1girl (100%), pink hair (67%), smile (67%)")
    expect(shown.output).toContain("--remove <tags>")
    expect(await read(dir, "10_ayu/1")).toBe(captions["10_ayu/1"])

    const pruned = await run([
      "tags",
      "prune",
      join(dir, "10_ayu"),
      "--trigger",
      "ayu",
      "--remove",
      "pink hair",
    ])
    expect(pruned.output).toContain("-pink hair from 2 captions")
    expect(pruned.output).toContain("trigger word first in 3 more captions")
    expect(await read(dir, "10_ayu/2")).toBe("ayu, 1girl, long hair")
    expect(await read(dir, "10_ayu/3")).toBe("ayu, 1girl, blue hair, smile")

    const badShare = await run(["tags", "prune", dir, "--trigger", "ayu", "--share", "0"])
    expect(badShare.error?.message).toBe("--share is a percentage between 0 and 100, got 0")
  })
})
