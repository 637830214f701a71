import { hostTensor, T } from "@danlu/core"
import { afterAll, expect, it } from "vitest"
import { exact, onnxRuntime, runGraph, values, worstError } from "./support.js"

const runtime = onnxRuntime()
afterAll(() => runtime.dispose())

it("smoke", async () => {
  const x = T.input("x", [2, 3])
  const w = T.input("w", [3, 4])
  const y = T.softmax(T.matmul(x, w), -1)
  const feeds = { x: hostTensor("f32", [2, 3], values(6, 1)), w: hostTensor("f32", [3, 4], values(12, 2)) }
  const out = await runGraph(runtime, { outputs: { y } }, feeds)
  const [truth] = exact([y], feeds)
  expect(worstError(out.y!.data as Float32Array, truth!)).toBeLessThan(1)
})
