import { Data, Effect } from "effect"
import type { CheckpointFormatError, FileAccessError } from "../io/errors.js"
import { toHostTensor } from "../io/storedTensor.js"
import type { TensorFile } from "../io/tensorFile.js"
import type { DType } from "../tensor/dtype.js"
import { fromBF16Bits, fromF16Bits, toBF16Bits, toF16Bits } from "../tensor/halfFloat.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import { formatShape, type Shape } from "../tensor/shape.js"

/** The checkpoint lacks a weight the model needs, or holds it in another shape. */
export class BaseWeightMismatch extends Data.TaggedError("BaseWeightMismatch")<{
  readonly file: string
  readonly key: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.file}: ${this.key} ${this.detail}`
  }
}

// Plain loops: `TypedArray.from(source, map)` goes through an iterator and is many times slower, which
// shows on SD checkpoints (a billion weights).
const widened = (bits: Uint16Array, convert: (bits: number) => number): Float32Array => {
  const out = new Float32Array(bits.length)
  for (let i = 0; i < bits.length; i++) out[i] = convert(bits[i]!)
  return out
}

const narrowed = (values: Float32Array, convert: (value: number) => number): Uint16Array => {
  const out = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = convert(values[i]!)
  return out
}

const toF32 = (tensor: HostTensor): Float32Array => {
  switch (tensor.dtype) {
    case "f32":
      return tensor.data as Float32Array
    case "f16":
      return widened(tensor.data as Uint16Array, fromF16Bits)
    case "bf16":
      return widened(tensor.data as Uint16Array, fromBF16Bits)
    default:
      return Float32Array.from(tensor.data)
  }
}

/** A float host tensor in another float dtype (f16/bf16 round to nearest even). */
export const castHostFloat = (tensor: HostTensor, dtype: DType): HostTensor => {
  if (tensor.dtype === dtype) return tensor
  const f32 = toF32(tensor)
  switch (dtype) {
    case "f32":
      return { dtype, shape: tensor.shape, data: f32 }
    case "f16":
      return { dtype, shape: tensor.shape, data: narrowed(f32, toF16Bits) }
    case "bf16":
      return { dtype, shape: tensor.shape, data: narrowed(f32, toBF16Bits) }
    default:
      throw new RangeError(`castHostFloat: ${dtype} is not a float dtype`)
  }
}

/** Reads one weight of a checkpoint as the program holds it: checked against the expected shape, cast to `dtype`. */
export const readBaseWeight = (
  file: TensorFile,
  key: string,
  shape: Shape,
  dtype: DType,
): Effect.Effect<HostTensor, BaseWeightMismatch | CheckpointFormatError | FileAccessError> =>
  Effect.gen(function* () {
    const info = file.tensors.find((t) => t.name === key)
    if (!info) return yield* new BaseWeightMismatch({ file: file.name, key, detail: "is missing" })
    const same = info.shape.length === shape.length && info.shape.every((d, i) => d === shape[i])
    if (!same)
      return yield* new BaseWeightMismatch({
        file: file.name,
        key,
        detail: `is ${formatShape(info.shape)}, the model expects ${formatShape(shape)}`,
      })
    return castHostFloat(toHostTensor(yield* file.read(key)), dtype)
  })
