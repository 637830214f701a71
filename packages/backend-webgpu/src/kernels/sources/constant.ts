import type { Tensor } from "@danlu/core"
import { toF16Bits } from "@danlu/core"
import { bufferBytes } from "../../device/storage.js"
import { type Command, type Launcher, outputOperand } from "../launch.js"

const bytesOf = (values: ReadonlyArray<number>, dtype: string): Uint8Array<ArrayBuffer> => {
  switch (dtype) {
    case "f32":
      return new Uint8Array(Float32Array.from(values).buffer)
    case "f16":
      return new Uint8Array(Uint16Array.from(values, toF16Bits).buffer)
    case "i32":
      return new Uint8Array(Int32Array.from(values).buffer)
    default:
      return new Uint8Array(Uint32Array.from(values, (v) => (dtype === "bool" ? Number(v !== 0) : v)).buffer)
  }
}

/** Copies literal values into a node's buffer: uploaded once with the program, copied on every run. */
export const literal = (node: Tensor, values: ReadonlyArray<number>): ReadonlyArray<Command> => {
  const bytes = new Uint8Array(bufferBytes(node))
  bytes.set(bytesOf(values, node.dtype))
  return [{ kind: "copy", from: { kind: "data", bytes }, to: outputOperand, bytes: bytes.byteLength }]
}

export const constant: Launcher<"constant"> = (node) => literal(node, node.attrs.values)
