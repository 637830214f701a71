import { geglu, silu } from "../composites/activations.js"
import { attention } from "../composites/attention.js"
import { groupNorm } from "../composites/groupNorm.js"
import { layerNorm } from "../composites/layerNorm.js"
import { add } from "../ops/elementwise.js"
import { conv2d, matmul, upsampleNearest } from "../ops/linalg.js"
import { concat, permute, reshape } from "../ops/movement.js"
import type { Tensor } from "../tensor/tensor.js"
import type { InputSpec, OpCase } from "./opCase.js"

// Whole blocks in the shape of SD's, built from core ops with every weight an input, so the suite checks
// forward and every gradient through real mixes of ops. Weights are drawn small, as trained weights are.
const act = (...shape: Array<number>): InputSpec => ({ shape })
const weight = (...shape: Array<number>): InputSpec => ({
  shape,
  draw: { kind: "float", low: -0.4, high: 0.4 },
})
const gain = (...shape: Array<number>): InputSpec => ({ shape, draw: { kind: "float", low: 0.8, high: 1.2 } })

/** Hands out inputs in declaration order, so a builder reads like its weight list. */
const reader = (xs: ReadonlyArray<Tensor>): (() => Tensor) => {
  let i = 0
  return () => xs[i++]!
}

const linear = (x: Tensor, next: () => Tensor): Tensor => add(matmul(x, next()), next())
const conv = (x: Tensor, next: () => Tensor, padding: number, stride = 1): Tensor =>
  add(conv2d(x, next(), { padding, stride }), reshape(next(), [1, -1, 1, 1]))
const norm = (x: Tensor, next: () => Tensor, groups: number): Tensor =>
  groupNorm(x, groups, next(), next(), 1e-5)

const resnetWeights = (c: number, out: number, temb: number): Array<InputSpec> => [
  gain(c),
  weight(c),
  weight(out, c, 3, 3),
  weight(out),
  weight(temb, out),
  weight(out),
  gain(out),
  weight(out),
  weight(out, out, 3, 3),
  weight(out),
  ...(c === out ? [] : [weight(out, c, 1, 1), weight(out)]),
]

/** LDM's ResBlock: GN → SiLU → conv3×3, + projected timestep, GN → SiLU → conv3×3, + skip (1×1 when channels change). */
const resnetBlock = (x: Tensor, emb: Tensor, next: () => Tensor, out: number, groups: number): Tensor => {
  let h = conv(silu(norm(x, next, groups)), next, 1)
  h = add(h, reshape(linear(silu(emb), next), [emb.shape[0]!, out, 1, 1]))
  h = conv(silu(norm(h, next, groups)), next, 1)
  return add(x.shape[1] === out ? x : conv(x, next, 0), h)
}

const attentionWeights = (c: number, context: number): Array<InputSpec> => [
  weight(c, c),
  weight(context, c),
  weight(context, c),
  weight(c, c),
  weight(c),
]

const splitHeads = (t: Tensor, heads: number): Tensor => {
  const [b, l, c] = t.shape as [number, number, number]
  return permute(reshape(t, [b, l, heads, c / heads]), [0, 2, 1, 3])
}

/** Multi-head attention with SD's bias-free q/k/v projections and a biased output projection. */
const multiHead = (x: Tensor, context: Tensor, next: () => Tensor, heads: number): Tensor => {
  const q = matmul(x, next())
  const k = matmul(context, next())
  const v = matmul(context, next())
  const o = attention(splitHeads(q, heads), splitHeads(k, heads), splitHeads(v, heads))
  const [b, l, c] = x.shape as [number, number, number]
  return linear(reshape(permute(o, [0, 2, 1, 3]), [b, l, c]), next)
}

const transformerWeights = (c: number, context: number): Array<InputSpec> => [
  gain(c),
  weight(c),
  ...attentionWeights(c, c),
  gain(c),
  weight(c),
  ...attentionWeights(c, context),
  gain(c),
  weight(c),
  weight(c, 8 * c),
  weight(8 * c),
  weight(4 * c, c),
  weight(c),
]

/** SD's BasicTransformerBlock: self-attention, cross-attention on the text context, GEGLU feed-forward. */
const transformerBlock = (x: Tensor, context: Tensor, next: () => Tensor, heads: number): Tensor => {
  const ln = (t: Tensor) => layerNorm(t, next(), next(), 1e-5)
  const normed = ln(x)
  let h = add(x, multiHead(normed, normed, next, heads))
  h = add(h, multiHead(ln(h), context, next, heads))
  return add(h, linear(geglu(linear(ln(h), next)), next))
}

/** Cases for whole blocks; the conformance suite runs them like op cases. */
export const blockCases: ReadonlyArray<OpCase> = [
  {
    name: "ResNet block 4→8 channels with timestep embedding",
    inputs: [act(2, 4, 5, 5), act(2, 6), ...resnetWeights(4, 8, 6)],
    build: (xs) => {
      const next = reader(xs)
      const x = next()
      return resnetBlock(x, next(), next, 8, 2)
    },
    toleranceScale: 10,
  },
  {
    name: "transformer block with self- and cross-attention",
    inputs: [act(2, 6, 8), act(2, 5, 12), ...transformerWeights(8, 12)],
    build: (xs) => {
      const next = reader(xs)
      const x = next()
      return transformerBlock(x, next(), next, 2)
    },
    toleranceScale: 10,
  },
  {
    name: "tiny UNet-shaped stack (down, attention, up, skip)",
    inputs: [
      act(1, 4, 8, 8),
      act(1, 6),
      act(1, 3, 12),
      weight(8, 4, 3, 3),
      weight(8),
      ...resnetWeights(8, 8, 6),
      weight(8, 8, 3, 3),
      weight(8),
      ...transformerWeights(8, 12),
      weight(8, 8, 3, 3),
      weight(8),
      ...resnetWeights(16, 8, 6),
      gain(8),
      weight(8),
      weight(4, 8, 3, 3),
      weight(4),
    ],
    build: (xs) => {
      const next = reader(xs)
      const [x, emb, context] = [next(), next(), next()]
      const h0 = conv(x, next, 1)
      const h1 = resnetBlock(h0, emb, next, 8, 2)
      const down = conv(h1, next, 1, 2)
      const [b, c, hh, ww] = down.shape as [number, number, number, number]
      const tokens = reshape(permute(down, [0, 2, 3, 1]), [b, hh * ww, c])
      const mid = permute(reshape(transformerBlock(tokens, context, next, 2), [b, hh, ww, c]), [0, 3, 1, 2])
      const up = conv(upsampleNearest(mid, 2), next, 1)
      const merged = resnetBlock(concat([up, h1], 1), emb, next, 8, 2)
      return conv(silu(norm(merged, next, 2)), next, 1)
    },
    toleranceScale: 20,
  },
]
