import { describe, expect, it } from "vitest"
import { T } from "../../src/index.js"
import { evaluateExact } from "../../src/reference/evaluate.js"
import { erf } from "../../src/reference/kernels/erf.js"
import type { Tensor } from "../../src/tensor/tensor.js"

// Known answers computed by hand, so the reference kernels are checked independently of themselves.
const run = (t: Tensor, feeds: Record<string, ArrayLike<number>> = {}): Array<number> =>
  Array.from(
    evaluateExact(
      [t],
      Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, Float64Array.from(v)])),
    )[0]!,
  )

const x = (shape: ReadonlyArray<number>) => T.input("x", shape)
const y = (shape: ReadonlyArray<number>) => T.input("y", shape)

describe("reference kernels: known answers", () => {
  it("matmul", () => {
    expect(run(T.matmul(x([2, 2]), y([2, 3])), { x: [1, 2, 3, 4], y: [1, 0, 2, 0, 1, 3] })).toEqual([
      1, 2, 8, 3, 4, 18,
    ])
  })
  it("matmul broadcasts a batch", () => {
    const out = run(T.matmul(x([2, 1, 2]), y([2, 1])), { x: [1, 2, 3, 4], y: [10, 1] })
    expect(out).toEqual([12, 34])
  })
  it("conv2d with padding and stride", () => {
    // 3×3 input 1..9, 2×2 kernel of ones, padding 1, stride 2: sums of the windows at rows/cols {-1, 1}.
    const out = run(T.conv2d(x([1, 1, 3, 3]), y([1, 1, 2, 2]), { padding: 1, stride: 2 }), {
      x: [1, 2, 3, 4, 5, 6, 7, 8, 9],
      y: [1, 1, 1, 1],
    })
    expect(out).toEqual([1, 5, 11, 28])
  })
  it("conv2d groups keep channels apart", () => {
    const out = run(T.conv2d(x([1, 2, 1, 1]), y([2, 1, 1, 1]), { groups: 2 }), { x: [3, 5], y: [2, 10] })
    expect(out).toEqual([6, 50])
  })
  it("conv2d gradients are the adjoints of conv2d", () => {
    const attrs = T.convAttrs({ padding: 1 })
    const dx = run(T.conv2dBackwardInput(x([1, 1, 2, 2]), y([1, 1, 3, 3]), attrs, [1, 1, 2, 2]), {
      x: [1, 0, 0, 0],
      y: [1, 2, 3, 4, 5, 6, 7, 8, 9],
    })
    // dy = e00 spreads the kernel's centre neighbourhood: dx[i,j] = w[1+i, 1+j].
    expect(dx).toEqual([5, 6, 8, 9])
    const dw = run(T.conv2dBackwardWeight(x([1, 1, 1, 1]), y([1, 1, 1, 1]), T.convAttrs(), [1, 1, 1, 1]), {
      x: [3],
      y: [4],
    })
    expect(dw).toEqual([12])
  })
  it("reductions", () => {
    expect(run(T.sum(x([2, 3]), 0), { x: [1, 2, 3, 4, 5, 6] })).toEqual([5, 7, 9])
    expect(run(T.max(x([2, 3]), 1), { x: [1, 9, 3, 4, 5, -6] })).toEqual([9, 5])
    expect(run(T.mean(x([4])), { x: [1, 2, 3, 6] })).toEqual([3])
  })
  it("movement", () => {
    const data = { x: [0, 1, 2, 3, 4, 5] }
    expect(run(T.permute(x([2, 3]), [1, 0]), data)).toEqual([0, 3, 1, 4, 2, 5])
    expect(run(T.slice(x([2, 3]), [0, 1], [2, 3]), data)).toEqual([1, 2, 4, 5])
    expect(run(T.pad(x([1, 2]), [0, 1], [1, 0], 9), { x: [1, 2] })).toEqual([9, 1, 2, 9, 9, 9])
    expect(run(T.concat([x([1, 2]), y([1, 1])], 1), { x: [1, 2], y: [3] })).toEqual([1, 2, 3])
    expect(run(T.expand(x([2, 1]), [2, 3]), { x: [1, 2] })).toEqual([1, 1, 1, 2, 2, 2])
    expect(run(T.upsampleNearest(x([1, 1, 1, 2]), 2), { x: [1, 2] })).toEqual([1, 1, 2, 2, 1, 1, 2, 2])
  })
  it("gather picks rows", () => {
    const table = x([3, 2])
    const idx = T.input("i", [2], "i32")
    expect(run(T.gather(table, idx), { x: [0, 1, 10, 11, 20, 21], i: [2, 0] })).toEqual([20, 21, 0, 1])
  })
  it("cast truncates toward zero and maps to bool", () => {
    expect(run(T.cast(T.cast(x([4]), "i32"), "f32"), { x: [1.7, -1.7, 0.2, -0.2] })).toEqual([1, -1, 0, 0])
    expect(run(T.cast(T.cast(x([3]), "bool"), "f32"), { x: [0, 2, -0.5] })).toEqual([0, 1, 1])
  })
  it("integer products wrap modulo 2^32 like every device's i32/u32 multiply", () => {
    const i = T.input("i", [3], "i32")
    const products = evaluateExact([T.mul(i, i)], { i: Int32Array.of(0x7fffffff, -0x80000000, 65537) })[0]!
    expect(Array.from(products)).toEqual([1, 0, 131073])
    const u = T.input("u", [1], "u32")
    const unsigned = evaluateExact([T.mul(u, T.full(0xffffffff, [], "u32"))], {
      u: Uint32Array.of(0xfffffffd),
    })[0]!
    expect(Array.from(unsigned)).toEqual([3])
  })
  it("bool and integer literals hold what their dtype stores", () => {
    const truth = T.full(1, [], "bool")
    const literals = [
      T.full(2, [], "bool"),
      T.constant([0.5], [], "bool"),
      T.pad(T.full(0, [1], "bool"), [1], [0], -3),
    ]
    for (const literal of literals) {
      expect(run(T.cast(T.equal(literal, truth), "f32"))[0]).toBe(1)
    }
    expect(run(T.cast(T.full(-1, [], "u32"), "f32"))).toEqual([0xffffffff])
    expect(run(T.cast(T.constant([2.7, -2.7], [2], "i32"), "f32"))).toEqual([2, -2])
  })
  it("erf matches published values", () => {
    const table: Array<[number, number]> = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
    ]
    for (const [v, expected] of table) {
      expect(erf(v)).toBeCloseTo(expected, 13)
      expect(erf(-v)).toBeCloseTo(-expected, 13)
    }
  })
  it("composites decompose to their definitions", () => {
    const soft = run(T.softmax(x([3])), { x: [1, 2, 3] })
    const e = [1, 2, 3].map(Math.exp)
    const total = e[0]! + e[1]! + e[2]!
    for (const [i, v] of soft.entries()) expect(v).toBeCloseTo(e[i]! / total, 14)
    const gelu = run(T.gelu(x([1])), { x: [1] })[0]!
    expect(gelu).toBeCloseTo(0.8413447460685429, 13)
    const silu = run(T.silu(x([1])), { x: [2] })[0]!
    expect(silu).toBeCloseTo(2 / (1 + Math.exp(-2)), 14)
  })
})
