import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { bundledBaseModelPath } from "../src/demo/bundledBaseModel.js"
import { runCli } from "./runCli.js"

const run = async (args: ReadonlyArray<string>) => (await runCli(args)).error

describe("danlu demo", () => {
  it("walks the seven steps on the bundled data and model, writing only into --out", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "danlu-demo-")), "demo")
    expect(await run(["demo", "--out", out, "--epochs", "1"])).toBeUndefined()
    const concept = join(out, "prepared", "10_danlu-girl")
    const files = await readdir(concept)
    expect(files.filter((f) => f.endsWith(".png")).length).toBe(16)
    const caption = await readFile(join(concept, "danlu-01.txt"), "utf8")
    expect(caption.startsWith("danlu-girl, ")).toBe(true)
    expect(caption).toContain("1girl")
    expect(caption).not.toContain("pink hair")
    const base = join(out, "models", "danlu-demo-base.safetensors")
    expect(await readFile(base)).toEqual(await readFile(bundledBaseModelPath()))
    const config = await readFile(join(out, "config.toml"), "utf8")
    expect(config).toContain("max_train_epochs = 1")
    // The warm-up that makes the grid show the character appear (docs/guide/demo.md).
    expect(config).toContain('lr_scheduler = "constant_with_warmup"')
    expect(config).toContain("lr_warmup_steps = 0.5")
    const output = await readdir(join(out, "output"))
    expect(output).toContain("danlu-girl.safetensors")
    expect(await readdir(join(out, "output", "xyz-danlu-girl"))).toContain("grid.png")

    expect((await run(["demo", "--out", out]))?.message).toContain("add --force")
  }, 600_000)

  it("says in one line when --out cannot be made", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "danlu-demo-file-")), "a-file")
    await writeFile(file, "mine")
    const error = await run(["demo", "--out", join(file, "demo")])
    expect(error).toMatchObject({ _tag: "UserError" })
    expect(error?.message).toMatch(
      /^cannot write .*a-file\/demo: a parent of this path is not a folder; choose another --out$/,
    )
  })

  it("refuses a folder it did not make", async () => {
    const out = await mkdtemp(join(tmpdir(), "danlu-demo-user-"))
    await writeFile(join(out, "precious.txt"), "mine")
    expect((await run(["demo", "--out", out, "--force"]))?.message).toContain("was not made by danlu demo")
    expect(await readFile(join(out, "precious.txt"), "utf8")).toBe("mine")
  })
})
