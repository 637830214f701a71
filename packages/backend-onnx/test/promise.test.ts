import { hostTensor, T } from "@danlu/core"
import { expect, it } from "vitest"
import { createOnnxBackend } from "../src/index.js"

it("runs a training-style graph and describes itself through the Promise API", async () => {
  const backend = await createOnnxBackend({ intraOpThreads: 1 })
  try {
    const info = await backend.describe()
    expect(info.name).toMatch(/^onnxruntime \d+\.\d+/)
    expect(info.devices[0]).toMatchObject({ name: "cpu" })
    expect(info.devices[0]!.detail).toMatch(/in use$/)
    expect(info.capabilities.fused).toContain("layerNorm")

    const w = T.state("w", [2])
    const x = T.input("x", [2])
    const program = await backend.compile({ outputs: { y: T.mul(x, w) }, updates: { w: T.add(w, x) } })
    const state = await backend.upload(hostTensor("f32", [2], Float32Array.of(1, 2)))
    const first = await program.run({ x: hostTensor("f32", [2], Float32Array.of(3, 4)) }, { w: state })
    const second = await program.run({ x: hostTensor("f32", [2], Float32Array.of(3, 4)) }, { w: state })
    expect(first.y!.data).toEqual(Float32Array.of(3, 8))
    expect(second.y!.data).toEqual(Float32Array.of(12, 24))
    expect((await backend.download(state)).data).toEqual(Float32Array.of(7, 10))
    await expect(program.run({})).rejects.toMatchObject({ _tag: "ProgramInputError", name: "x" })
    await program.release()
  } finally {
    await backend.close()
  }
})
