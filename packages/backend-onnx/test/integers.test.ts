import { hostTensor, Reference, T } from "@danlu/core"
import { ManagedRuntime } from "effect"
import { afterAll, expect, it } from "vitest"
import { onnxRuntime, runGraph } from "./support.js"

const runtime = onnxRuntime()
// The rounding reference: casts of f32 products must see the f32 product, not the exact one.
const reference = ManagedRuntime.make(Reference.layer)
afterAll(() => Promise.all([runtime.dispose(), reference.dispose()]))

it("runs integer and bool graphs exactly like the reference, including kernels ONNX Runtime lacks", async () => {
  const u = T.input("u", [2, 3], "u32")
  const i = T.input("i", [2, 3], "i32")
  const f = T.input("f", [2, 3])
  const mask = T.less(f, 0)
  const outputs = {
    // ReduceSum, ReduceMax and Where have no uint32 kernels on the CPU provider.
    uSum: T.sum(u, 1),
    uMax: T.max(u, 0, true),
    uWhere: T.where(mask, u, T.add(u, 1)),
    bWhere: T.where(mask, mask, T.equal(f, f)),
    // Integer division truncates toward zero; float → integer casts truncate and wrap.
    iDiv: T.div(i, T.full(4, [], "i32")),
    toU32: T.cast(f, "u32"),
    toI32: T.cast(T.mul(f, 1e9), "i32"),
    gathered: T.gather(f, T.input("rows", [3], "u32")),
  }
  const feeds = {
    u: hostTensor("u32", [2, 3], Uint32Array.of(0xffffffff, 1, 7, 3, 0, 0x80000000)),
    i: hostTensor("i32", [2, 3], Int32Array.of(-9, 9, -1, 1, 2 ** 31 - 1, -(2 ** 31))),
    f: hostTensor("f32", [2, 3], Float32Array.of(-1.5, 2.7, -0.2, 5, -3, 0.9)),
    rows: hostTensor("u32", [3], Uint32Array.of(1, 0, 1)),
  }
  const out = await runGraph(runtime, { outputs }, feeds)
  const truth = await runGraph(reference, { outputs }, feeds)
  for (const name of Object.keys(outputs)) expect([name, out[name]]).toEqual([name, truth[name]])
})
