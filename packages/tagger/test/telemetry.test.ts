import { existsSync } from "node:fs"
import { Effect } from "effect"
import { expect, it } from "vitest"
import { loadWd14Model } from "../src/index.js"
import { buildTinyWd14Model } from "../src/testing/index.js"
import { tempDir, writeFileIn } from "./fixtures.js"

// Its own file: ONNX Runtime reads the variable once, at the process's first session.
it("opens a tagger with ONNX Runtime's telemetry off when the user has not set ORT_DISABLE_TELEMETRY", async () => {
  delete process.env.ORT_DISABLE_TELEMETRY
  const model = await writeFileIn(
    await tempDir(),
    "model.onnx",
    buildTinyWd14Model({ size: 4, tags: 2 }).bytes,
  )
  await Effect.runPromise(Effect.scoped(loadWd14Model(model)))
  expect(process.env.ORT_DISABLE_TELEMETRY).toBe("1")
  // The uploader's own log, which ONNX Runtime 1.30 writes for each process it starts in.
  expect(existsSync(`/tmp/mat-debug-${process.pid}.log`)).toBe(false)
})
