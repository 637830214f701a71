import { uniformF32 } from "../random/philox.js"
import type { DType } from "../tensor/dtype.js"
import { toBF16Bits, toF16Bits } from "../tensor/halfFloat.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import { sizeOf } from "../tensor/shape.js"
import type { InputSpec } from "./opCase.js"

/** Draws one conformance input from the Philox stream, so every backend and every run sees the same data. */
export const drawInput = (spec: InputSpec, dtype: DType, seed: number): HostTensor => {
  const n = sizeOf(spec.shape)
  const u = uniformF32(Math.max(n, 4), seed, 0)
  const draw = spec.draw ?? { kind: "float" }
  switch (draw.kind) {
    case "index": {
      const values = Array.from(u.subarray(0, n), (v) => Math.floor(v * draw.below))
      return draw.dtype === "u32"
        ? { dtype: "u32", shape: spec.shape, data: Uint32Array.from(values) }
        : { dtype: "i32", shape: spec.shape, data: Int32Array.from(values) }
    }
    case "bool":
      return {
        dtype: "bool",
        shape: spec.shape,
        data: Uint8Array.from(u.subarray(0, n), (v) => (v < 0.5 ? 1 : 0)),
      }
    case "key":
      return { dtype: "u32", shape: [4], data: Uint32Array.from([seed, 7, seed % 3, 0]) }
    case "float": {
      const low = draw.low ?? -2
      const high = draw.high ?? 2
      const values = Array.from(u.subarray(0, n), (v) => low + (high - low) * v)
      if (dtype === "f16") return { dtype, shape: spec.shape, data: Uint16Array.from(values, toF16Bits) }
      if (dtype === "bf16") return { dtype, shape: spec.shape, data: Uint16Array.from(values, toBF16Bits) }
      return { dtype: "f32", shape: spec.shape, data: Float32Array.from(values) }
    }
  }
}
