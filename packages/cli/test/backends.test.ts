import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { BackendEntry } from "../src/backends/registry.js"
import { formatProbes, probeBackend } from "../src/commands/backends.js"
import { runCli } from "./runCli.js"

describe("danlu backends", () => {
  it("describes the reference backend", async () => {
    const { output: text } = await runCli(["backends"])
    expect(text).toContain("✓ reference")
    expect(text).toContain("dtypes: f32, f16, bf16, i32, u32, bool")
  })

  it("turns a backend that cannot load into one line with the reason", async () => {
    const broken: BackendEntry = {
      name: "imaginary",
      summary: "never loads",
      load: () => Promise.reject(new Error("Cannot find module 'imaginary-native'\n    at stack frame")),
    }
    const probe = await Effect.runPromise(probeBackend(broken))
    expect(formatProbes([probe])).toBe("✗ imaginary — unavailable: Cannot find module 'imaginary-native'")
  })
})
