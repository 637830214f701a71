import { sizeOf } from "@danlu/core"
import { ElemType } from "../onnx/elemType.js"
import type { EmitContext, Emitter } from "./emitContext.js"

const MULTIPLIER_0 = 0xd2511f53
const MULTIPLIER_1 = 0xcd9e8d57
const WEYL_0 = 0x9e3779b9
const WEYL_1 = 0xbb67ae85
const LOW_WORD = 0xffffffff
const ROUNDS = 10

/**
 * Philox4x32-10 in ONNX integer ops, bit-exact with core's `random/philox.ts`. ONNX has no 32-bit
 * `mulhilo`, so words live in uint64: the product of two u32s fits, its high word is a right shift by
 * 32 and its low word a mask (ONNX Runtime's CPU provider has uint64 Mul, BitShift and Bitwise*).
 * Returns the u32 words of blocks 0…blocks−1 as a [blocks, 4] uint64 value.
 */
export const philoxWords = (ctx: EmitContext, key: string, blocks: number): string => {
  const { b } = ctx
  const u64 = (value: number) => b.constant(ElemType.UINT64, [1], [value])
  const mask = u64(LOW_WORD)
  const shift = u64(32)
  const wide = ctx.cast(key, ElemType.UINT64)
  const word = (i: number) => ctx.slice(wide, [i], [i + 1])
  let [k0, k1] = [word(0), word(1)]
  const counter = b.op("Range", [
    b.scalar(ElemType.INT64, 0),
    b.scalar(ElemType.INT64, blocks),
    b.scalar(ElemType.INT64, 1),
  ])
  let c = [ctx.cast(counter, ElemType.UINT64), word(2), word(3), u64(0)] as [string, string, string, string]
  const mulHiLo = (multiplier: number, x: string): [string, string] => {
    const product = b.op("Mul", [x, u64(multiplier)])
    return [
      b.op("BitShift", [product, shift], { direction: { string: "RIGHT" } }),
      b.op("BitwiseAnd", [product, mask]),
    ]
  }
  const xor = (...values: ReadonlyArray<string>) => values.reduce((acc, v) => b.op("BitwiseXor", [acc, v]))
  const bump = (k: string, weyl: number) => b.op("BitwiseAnd", [b.op("Add", [k, u64(weyl)]), mask])
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) [k0, k1] = [bump(k0, WEYL_0), bump(k1, WEYL_1)]
    const [hi0, lo0] = mulHiLo(MULTIPLIER_0, c[0])
    const [hi1, lo1] = mulHiLo(MULTIPLIER_1, c[2])
    c = [xor(hi1, c[1], k0), lo1, xor(hi0, c[3], k1), lo0]
  }
  // Early rounds broadcast the scalar counter words; by the last round every lane is [blocks].
  const lanes = c.map((lane) => b.op("Expand", [ctx.reshape(lane, [-1, 1]), b.int64s([blocks, 1])]))
  return b.op("Concat", lanes, { axis: { int: 1 } })
}

/** ((x >>> 9) + 0.5) · 2^-23 in the given float type: the contract's exact u32 → (0, 1) map. */
const uniformOf = (ctx: EmitContext, words: string, type: ElemType): string => {
  const mantissa = ctx.b.op("BitShift", [words, ctx.b.constant(ElemType.UINT64, [1], [9])], {
    direction: { string: "RIGHT" },
  })
  const centred = ctx.b.op("Add", [ctx.cast(mantissa, type), ctx.b.scalar(type, 0.5)])
  return ctx.b.op("Mul", [centred, ctx.b.scalar(type, 2 ** -23)])
}

/**
 * The `random` op: element i is lane i % 4 of block floor(i / 4). Normal draws run Box-Muller in double,
 * as the reference does, then round once to f32.
 */
export const emitRandom: Emitter<"random"> = (ctx, node, [key]) => {
  const n = sizeOf(node.shape)
  const blocks = Math.max(Math.ceil(n / 4), 1)
  const words = philoxWords(ctx, key!, blocks)
  const { b } = ctx
  let flat: string
  if (node.attrs.distribution === "uniform") {
    flat = uniformOf(ctx, ctx.reshape(words, [blocks * 4]), ElemType.FLOAT)
  } else {
    const pairs = uniformOf(ctx, ctx.reshape(words, [blocks * 2, 2]), ElemType.DOUBLE)
    const u1 = ctx.slice(pairs, [0, 0], [blocks * 2, 1])
    const u2 = ctx.slice(pairs, [0, 1], [blocks * 2, 2])
    const radius = b.op("Sqrt", [b.op("Mul", [b.op("Log", [u1]), b.scalar(ElemType.DOUBLE, -2)])])
    const angle = b.op("Mul", [u2, b.scalar(ElemType.DOUBLE, 2 * Math.PI)])
    const even = b.op("Mul", [radius, b.op("Cos", [angle])])
    const odd = b.op("Mul", [radius, b.op("Sin", [angle])])
    flat = ctx.cast(
      ctx.reshape(b.op("Concat", [even, odd], { axis: { int: 1 } }), [blocks * 4]),
      ElemType.FLOAT,
    )
  }
  const used = n === blocks * 4 ? flat : ctx.slice(flat, [0], [n])
  return ctx.reshape(used, node.shape)
}
