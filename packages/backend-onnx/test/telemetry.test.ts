import { existsSync } from "node:fs"
import { hostTensor, T } from "@danlu/core"
import { afterAll, expect, it } from "vitest"
import { onnxRuntime, runGraph } from "./support.js"

const runtime = onnxRuntime()
afterAll(() => runtime.dispose())

// Its own file: ONNX Runtime reads the variable once, at the process's first session.
it("compiles with ONNX Runtime's telemetry off when the user has not set ORT_DISABLE_TELEMETRY", async () => {
  delete process.env.ORT_DISABLE_TELEMETRY
  const x = T.input("x", [2])
  const out = await runGraph(
    runtime,
    { outputs: { y: T.add(x, 1) } },
    { x: hostTensor("f32", [2], Float32Array.of(1, 2)) },
  )
  expect(out.y!.data).toEqual(Float32Array.of(2, 3))
  expect(process.env.ORT_DISABLE_TELEMETRY).toBe("1")
  // The uploader's own log, which ONNX Runtime 1.30 writes for each process it starts in.
  expect(existsSync(`/tmp/mat-debug-${process.pid}.log`)).toBe(false)
})
