import { attentionProbabilities } from "../composites/attention.js"
import { channelView, normalizeGroups } from "../composites/groupNorm.js"
import { normalizeLastDim } from "../composites/layerNorm.js"
import { cast } from "../ops/cast.js"
import {
  add,
  cos,
  div,
  equal,
  erf,
  exp,
  less,
  mul,
  neg,
  recip,
  sigmoid,
  sin,
  sqrt,
  square,
  sub,
  where,
} from "../ops/elementwise.js"
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, matmul } from "../ops/linalg.js"
import { concat, expand, pad, permute, reshape, slice, sliceAxis, transpose } from "../ops/movement.js"
import type { OpName } from "../ops/opName.js"
import { mean, sum } from "../ops/reduce.js"
import { arange } from "../ops/sources.js"
import { isFloat } from "../tensor/dtype.js"
import { sizeOf } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"
import { unbroadcast } from "./unbroadcast.js"

/**
 * A vector–Jacobian product: given the cotangent `g` of node `y`, the cotangent of each input of `y`,
 * or `null` where none flows (indices, masks, random keys). Rules are written with ops only, so every
 * backend differentiates the same way and none writes a gradient.
 */
export type VjpRule<Op extends OpName> = (g: Tensor, y: Tensor<Op>) => ReadonlyArray<Tensor | null>

const none = (): ReadonlyArray<null> => []
const arg = (y: Tensor, i: number): Tensor => y.inputs[i]!

const expandReduced = (g: Tensor, y: Tensor<"sum" | "max">): Tensor => {
  const x = arg(y, 0)
  return expand(
    reshape(
      g,
      x.shape.map((d, i) => (y.attrs.axes.includes(i) ? 1 : d)),
    ),
    x.shape,
  )
}

const geluDerivative = (x: Tensor): Tensor => {
  const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5)
  const pdf = mul(exp(mul(square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI))
  return add(cdf, mul(x, pdf))
}

/** Input gradient of `normalize(x)` over the last dim, given the gradient of the normalized value. */
const normalizeBackward = (dxhat: Tensor, x: Tensor, eps: number): Tensor => {
  const wide = (t: Tensor): Tensor => (t.dtype === "f16" || t.dtype === "bf16" ? cast(t, "f32") : t)
  const [g, x32] = [wide(dxhat), wide(x)]
  const n = x32.shape[x32.rank - 1]!
  const centered = sub(x32, mean(x32, -1, true))
  const rstd = recip(sqrt(add(mean(square(centered), -1, true), eps)))
  const xhat = mul(centered, rstd)
  const inner = sub(sub(mul(g, n), sum(g, -1, true)), mul(xhat, sum(mul(g, xhat), -1, true)))
  return cast(mul(inner, mul(rstd, 1 / n)), x.dtype)
}

/** Sum over every axis but the channel axis 1 of `[N C …]`. */
const perChannel = (t: Tensor): Tensor =>
  sum(
    t,
    t.shape.flatMap((_, i) => (i === 1 ? [] : [i])),
  )

const softmaxBackward = (g: Tensor, y: Tensor, axis: number): Tensor =>
  mul(y, sub(g, sum(mul(g, y), axis, true)))

/** The one table of gradient rules. A new op without a rule here does not compile. */
export const vjpRules: { readonly [Op in OpName]: VjpRule<Op> } = {
  input: none,
  state: none,
  constant: none,
  full: none,
  random: () => [null],

  neg: (g) => [neg(g)],
  exp: (g, y) => [mul(g, y)],
  log: (g, y) => [div(g, arg(y, 0))],
  sqrt: (g, y) => [div(mul(g, 0.5), y)],
  recip: (g, y) => [neg(mul(g, square(y)))],
  sin: (g, y) => [mul(g, cos(arg(y, 0)))],
  cos: (g, y) => [neg(mul(g, sin(arg(y, 0))))],
  erf: (g, y) => [mul(g, mul(exp(neg(square(arg(y, 0)))), 2 / Math.sqrt(Math.PI)))],

  add: (g, y) => [unbroadcast(g, arg(y, 0).shape), unbroadcast(g, arg(y, 1).shape)],
  sub: (g, y) => [unbroadcast(g, arg(y, 0).shape), unbroadcast(neg(g), arg(y, 1).shape)],
  mul: (g, y) => [
    unbroadcast(mul(g, arg(y, 1)), arg(y, 0).shape),
    unbroadcast(mul(g, arg(y, 0)), arg(y, 1).shape),
  ],
  div: (g, y) => {
    const [a, b] = [arg(y, 0), arg(y, 1)]
    return [unbroadcast(div(g, b), a.shape), unbroadcast(neg(div(mul(g, y), b)), b.shape)]
  },
  maximum: (g, y) => {
    const [a, b] = [arg(y, 0), arg(y, 1)]
    const bWins = less(a, b)
    return [unbroadcast(where(bWins, 0, g), a.shape), unbroadcast(where(bWins, g, 0), b.shape)]
  },
  less: () => [null, null],
  equal: () => [null, null],
  where: (g, y) => [
    null,
    unbroadcast(where(arg(y, 0), g, 0), arg(y, 1).shape),
    unbroadcast(where(arg(y, 0), 0, g), arg(y, 2).shape),
  ],

  sum: (g, y) => [expandReduced(g, y)],
  max: (g, y) => {
    const x = arg(y, 0)
    const hits = cast(equal(x, expandReduced(y, y)), x.dtype)
    const count = expandReduced(sum(hits, y.attrs.axes, y.attrs.keepDims), y)
    return [div(mul(hits, expandReduced(g, y)), count)]
  },

  reshape: (g, y) => [reshape(g, arg(y, 0).shape)],
  permute: (g, y) => {
    const inverse = new Array<number>(y.attrs.perm.length)
    y.attrs.perm.forEach((p, i) => {
      inverse[p] = i
    })
    return [permute(g, inverse)]
  },
  expand: (g, y) => [unbroadcast(g, arg(y, 0).shape)],
  slice: (g, y) => {
    const x = arg(y, 0)
    return [
      pad(
        g,
        y.attrs.begin,
        y.attrs.end.map((e, i) => x.shape[i]! - e),
      ),
    ]
  },
  concat: (g, y) => {
    let offset = 0
    return y.inputs.map((x) => {
      const part = sliceAxis(g, y.attrs.axis, offset, offset + x.shape[y.attrs.axis]!)
      offset += x.shape[y.attrs.axis]!
      return part
    })
  },
  pad: (g, y) => [
    slice(
      g,
      y.attrs.before,
      g.shape.map((d, i) => d - y.attrs.after[i]!),
    ),
  ],

  gather: (g, y) => {
    const [table, indices] = [arg(y, 0), arg(y, 1)]
    const rows = table.shape[0]!
    const flatIndices = reshape(cast(indices, "f32"), [-1, 1])
    const oneHot = cast(equal(flatIndices, reshape(arange(rows, "f32"), [1, rows])), g.dtype)
    const flatG = reshape(g, [flatIndices.shape[0]!, sizeOf(table.shape.slice(1))])
    return [reshape(matmul(transpose(oneHot), flatG), table.shape), null]
  },

  matmul: (g, y) => {
    const [a, b] = [arg(y, 0), arg(y, 1)]
    return [unbroadcast(matmul(g, transpose(b)), a.shape), unbroadcast(matmul(transpose(a), g), b.shape)]
  },
  conv2d: (g, y) => {
    const [x, w] = [arg(y, 0), arg(y, 1)]
    return [conv2dBackwardInput(g, w, y.attrs, x.shape), conv2dBackwardWeight(x, g, y.attrs, w.shape)]
  },
  conv2dBackwardInput: (g, y) => {
    const [dy, w] = [arg(y, 0), arg(y, 1)]
    return [conv2d(g, w, y.attrs), conv2dBackwardWeight(g, dy, y.attrs, w.shape)]
  },
  conv2dBackwardWeight: (g, y) => {
    const [x, dy] = [arg(y, 0), arg(y, 1)]
    return [conv2dBackwardInput(dy, g, y.attrs, x.shape), conv2d(x, g, y.attrs)]
  },
  upsampleNearest: (g, y) => {
    const x = arg(y, 0)
    const s = y.attrs.scale
    const [h, w] = x.shape.slice(-2) as [number, number]
    const lead = x.shape.slice(0, -2)
    const blocks = reshape(g, [...lead, h, s, w, s])
    return [reshape(sum(blocks, [lead.length + 1, lead.length + 3]), x.shape)]
  },

  cast: (g, y) => {
    const x = arg(y, 0)
    return [isFloat(x.dtype) && isFloat(y.dtype) ? cast(g, x.dtype) : null]
  },

  softmax: (g, y) => [softmaxBackward(g, y, y.attrs.axis)],
  layerNorm: (g, y) => {
    const [x, w] = [arg(y, 0), arg(y, 1)]
    const xhat = normalizeLastDim(x, y.attrs.eps)
    const lead = x.shape.slice(0, -1).map((_, i) => i)
    return [normalizeBackward(mul(g, w), x, y.attrs.eps), sum(mul(g, xhat), lead), sum(g, lead)]
  },
  groupNorm: (g, y) => {
    const [x, w] = [arg(y, 0), arg(y, 1)]
    const { groups, eps } = y.attrs
    const grouped = (t: Tensor): Tensor => reshape(t, [x.shape[0]!, groups, -1])
    const dxhat = mul(g, channelView(w, x.rank))
    const dx = reshape(normalizeBackward(grouped(dxhat), grouped(x), eps), x.shape)
    return [dx, perChannel(mul(g, normalizeGroups(x, groups, eps))), perChannel(g)]
  },
  gelu: (g, y) => [mul(g, geluDerivative(arg(y, 0)))],
  geglu: (g, y) => {
    const x = arg(y, 0)
    const half = x.shape[x.rank - 1]! / 2
    const hidden = sliceAxis(x, -1, 0, half)
    const gate = sliceAxis(x, -1, half, 2 * half)
    const geluGate = mul(mul(gate, 0.5), add(erf(mul(gate, Math.SQRT1_2)), 1))
    return [concat([mul(g, geluGate), mul(mul(g, hidden), geluDerivative(gate))], -1)]
  },
  silu: (g, y) => {
    const x = arg(y, 0)
    const s = sigmoid(x)
    return [mul(g, mul(s, add(mul(x, sub(1, s)), 1)))]
  },
  attention: (g, y) => {
    const [q, k, v, mask] = [arg(y, 0), arg(y, 1), arg(y, 2), y.inputs[3]]
    const { scale } = y.attrs
    const p = attentionProbabilities(q, k, scale, mask)
    const dv = unbroadcast(matmul(transpose(p), g), v.shape)
    // softmax's backward needs Σⱼ pᵢⱼ·dpᵢⱼ, which equals gᵢ·yᵢ (y = p·v): a row sum over the head size instead
    // of a product and a row sum over the whole [Lq Lk] score matrix (FlashAttention's identity).
    const ds = mul(p, sub(matmul(g, transpose(v)), sum(mul(g, y), -1, true)))
    const dq = unbroadcast(mul(matmul(ds, k), scale), q.shape)
    const dk = unbroadcast(mul(matmul(transpose(ds), q), scale), k.shape)
    return mask ? [dq, dk, dv, unbroadcast(ds, mask.shape)] : [dq, dk, dv]
  },
}
