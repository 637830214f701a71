import { type DType, roundToBF16, roundToF16, type Tensor } from "@danlu/core"
import { computeType, ElemType, roundingType } from "../onnx/elemType.js"
import type { Attribute, ModelBuilder } from "../onnx/modelBuilder.js"

/** What an op emitter gets: the builder, and helpers shared by every op. */
export class EmitContext {
  constructor(readonly b: ModelBuilder) {}

  cast(value: string, to: ElemType): string {
    return this.b.op("Cast", [value], { to: { int: to } })
  }

  /** Rounds a FLOAT value to f16/bf16 precision (a Cast down and back up); other dtypes pass through. */
  round(value: string, dtype: DType): string {
    const narrow = roundingType(dtype)
    return narrow === undefined ? value : this.cast(this.cast(value, narrow), ElemType.FLOAT)
  }

  /**
   * Runs an op whose ONNX Runtime CPU kernel lacks the dtype's element type by widening the inputs
   * (`widen` marks which ones), then narrowing the result back (integer casts wrap, as the reference's
   * typed-array stores do).
   */
  widened(
    opType: string,
    inputs: ReadonlyArray<string>,
    attrs: Readonly<Record<string, Attribute>>,
    widen: ReadonlyArray<boolean>,
    wide: ElemType,
    resultType: ElemType,
  ): string {
    const wideInputs = inputs.map((v, i) => (widen[i] ? this.cast(v, wide) : v))
    return this.cast(this.b.op(opType, wideInputs, attrs), resultType)
  }

  /** A compute-type scalar of the node's dtype, pre-rounded for 16-bit floats. */
  scalarOf(dtype: DType, value: number): string {
    return this.b.scalar(computeType[dtype], roundValue(dtype, value))
  }

  reshape(value: string, shape: ReadonlyArray<number>): string {
    return this.b.op("Reshape", [value, this.b.int64s(shape)])
  }

  transpose(value: string, perm: ReadonlyArray<number>): string {
    return this.b.op("Transpose", [value], { perm: { ints: perm } })
  }

  slice(value: string, begin: ReadonlyArray<number>, end: ReadonlyArray<number>): string {
    const axes = begin.map((_, i) => i)
    return this.b.op("Slice", [value, this.b.int64s(begin), this.b.int64s(end), this.b.int64s(axes)])
  }
}

/** An emitter: ONNX nodes computing `node` from its inputs' values; returns the result's value name. */
export type Emitter<Op extends Tensor["op"]> = (
  ctx: EmitContext,
  node: Tensor<Op>,
  inputs: ReadonlyArray<string>,
) => string

/** Rounds a literal to the dtype's precision, as the reference stores it. */
export const roundValue = (dtype: DType, value: number): number =>
  dtype === "f32"
    ? Math.fround(value)
    : dtype === "f16"
      ? roundToF16(value)
      : dtype === "bf16"
        ? roundToBF16(value)
        : value
