import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"

describe("flag errors", () => {
  it("print one danlu: line instead of the help page", async () => {
    const result = await runCli(["tags", "list", "/tmp", "--top", "many"])
    expect(result.ok).toBe(false)
    expect(result.output).toBe("")
    expect(result.errorOutput.split("\n")).toHaveLength(1)
    expect(result.errorOutput).toMatch(/^danlu: .*--top/)
  })
  it("still print the help page for --help", async () => {
    const result = await runCli(["tags", "list", "--help"])
    expect(result.output).toContain("USAGE")
    expect(result.errorOutput).toBe("")
  })
})

describe("tags list", () => {
  it("refuses --top below 1 and says so when a folder holds no images", async () => {
    expect((await runCli(["tags", "list", "/tmp", "--top", "0"])).error?.message).toBe(
      "--top 0: give at least 1 row",
    )
    const empty = await mkdtemp(join(tmpdir(), "danlu-empty-"))
    const result = await runCli(["tags", "list", empty])
    expect(result.ok).toBe(true)
    expect(result.output).toBe(`${empty}: no images here, so no captions to count`)
  })
})
