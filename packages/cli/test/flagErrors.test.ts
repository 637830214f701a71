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
