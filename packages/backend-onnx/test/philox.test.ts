import { hostTensor, Random, T } from "@danlu/core"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { EmitContext } from "../src/lower/emitContext.js"
import { philoxWords } from "../src/lower/philox.js"
import { ElemType } from "../src/onnx/elemType.js"
import { ModelBuilder } from "../src/onnx/modelBuilder.js"
import { loadOrt } from "../src/runtime/ortRuntime.js"
import { onnxRuntime, runGraph } from "./support.js"

const runtime = onnxRuntime()
const ort = await Effect.runPromise(loadOrt)
afterAll(() => runtime.dispose())

// Seeds and offsets with both words in use, and word values at the edges of u32.
const keys = [
  Random.fillKey(0, 0),
  Random.fillKey(0x1234_5678_9abc_dn, Random.drawOffset(3, 2)),
  Uint32Array.of(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff),
]

describe("Philox4x32-10 in ONNX", () => {
  it("produces the reference u32 stream bit for bit", async () => {
    const blocks = 257
    const b = new ModelBuilder()
    b.addInput("key", ElemType.UINT32, [4])
    b.addOutput(
      b.op(
        "Cast",
        [philoxWords(new EmitContext(b), "key", blocks)],
        { to: { int: ElemType.UINT32 } },
        "words",
      ),
      ElemType.UINT32,
      [blocks, 4],
    )
    const session = await ort.InferenceSession.create(b.encode("philox"))
    for (const key of keys) {
      const { words } = await session.run({ key: new ort.Tensor("uint32", key, [4]) })
      const seed = [key[0]!, key[1]!] as const
      const offset = [key[2]!, key[3]!] as const
      expect(words!.data).toEqual(Random.philoxUint32(blocks * 4, seed, offset))
    }
    await session.release()
  })

  it("draws uniform floats equal to the reference's, for lengths that do not fill the last block", async () => {
    for (const key of keys) {
      const k = T.input("key", [4], "u32")
      const u = T.random(k, [3, 67], "uniform")
      const out = await runGraph(runtime, { outputs: { u } }, { key: hostTensor("u32", [4], key) })
      expect(out.u!.data).toEqual(Random.uniformF32(201, [key[0]!, key[1]!], [key[2]!, key[3]!]))
    }
  })

  it("draws normal floats within one f32 ulp of the reference's (Box-Muller in double)", async () => {
    const key = keys[1]!
    const k = T.input("key", [4], "u32")
    const z = T.random(k, [1001], "normal")
    const out = await runGraph(runtime, { outputs: { z } }, { key: hostTensor("u32", [4], key) })
    const truth = Random.normalF32(1001, [key[0]!, key[1]!], [key[2]!, key[3]!])
    const actual = out.z!.data as Float32Array
    let worstUlps = 0
    for (let i = 0; i < truth.length; i++) {
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(truth[i]!))) - 23)
      worstUlps = Math.max(worstUlps, Math.abs(actual[i]! - truth[i]!) / ulp)
    }
    expect(worstUlps).toBeLessThanOrEqual(1)
  })
})
