import { Effect } from "effect"
import { describe, expect, it, vi } from "vitest"
import { editCaptions, loadWd14Model, removeTags } from "../src/index.js"
import { solidPng, tempDir, writeFileIn } from "./fixtures.js"

// A machine where the ONNX Runtime native module is missing or broken.
vi.mock("onnxruntime-node", () => {
  throw new Error("libonnxruntime.so.1: cannot open shared object file\nstack...")
})

describe("without onnxruntime-node", () => {
  it("still edits tags: the runtime is only loaded for auto-tagging", async () => {
    const dir = await tempDir()
    await writeFileIn(dir, "a.png", await solidPng(2, [0, 0, 0]))
    await writeFileIn(dir, "a.txt", "a, b")
    const report = await Effect.runPromise(editCaptions(dir, "tags remove", removeTags(["b"])))
    expect(report.changes).toHaveLength(1)
  })

  it("says in one line that auto-tagging needs it", async () => {
    const dir = await tempDir()
    const model = await writeFileIn(dir, "model.onnx", "x")
    const error = await Effect.runPromise(Effect.flip(Effect.scoped(loadWd14Model(model))))
    expect(error._tag).toBe("TaggerModelError")
    expect(error.message).toMatch(/^cannot load onnxruntime-node, needed for auto-tagging: /)
    expect(error.message).not.toContain("\n")
  })
})
