// An SD-style transformer block (self-attention, cross-attention, GEGLU feed-forward, three LayerNorms)
// and its full backward pass, written with core's tensor ops, plus a FLOP count of its matmuls.
import { grad, lowerComposites, T, topologicalOrder } from "@danlu/core"

export const blockShapes = (tokens, channels, contextTokens, contextChannels, heads) => ({
  tokens,
  channels,
  contextTokens,
  contextChannels,
  heads,
})

const weight = (name, shape) => T.state(name, shape)

const linear = (x, name, inputs, outputs, bias = true) => {
  const y = T.matmul(x, weight(`${name}.weight`, [inputs, outputs]))
  return bias ? T.add(y, weight(`${name}.bias`, [outputs])) : y
}

const attention = (x, context, name, { tokens, channels, heads }, contextChannels, contextTokens) => {
  const headSize = channels / heads
  const split = (t, length) => T.permute(T.reshape(t, [1, length, heads, headSize]), [0, 2, 1, 3])
  const q = split(linear(x, `${name}.to_q`, channels, channels, false), tokens)
  const k = split(linear(context, `${name}.to_k`, contextChannels, channels, false), contextTokens)
  const v = split(linear(context, `${name}.to_v`, contextChannels, channels, false), contextTokens)
  const o = T.reshape(T.permute(T.attention(q, k, v), [0, 2, 1, 3]), [1, tokens, channels])
  return linear(o, `${name}.to_out`, channels, channels)
}

const norm = (x, name, channels) =>
  T.layerNorm(x, weight(`${name}.weight`, [channels]), weight(`${name}.bias`, [channels]))

/** The block's graph: output, and gradients of ⟨output, cotangent⟩ with respect to x and every weight. */
export const transformerBlockGraph = (shapes) => {
  const { tokens, channels, contextTokens, contextChannels } = shapes
  const x = T.input("x", [1, tokens, channels])
  const context = T.input("context", [1, contextTokens, contextChannels])
  const cotangent = T.input("cotangent", [1, tokens, channels])
  let h = T.add(
    x,
    attention(norm(x, "norm1", channels), norm(x, "norm1", channels), "attn1", shapes, channels, tokens),
  )
  h = T.add(
    h,
    attention(norm(h, "norm2", channels), context, "attn2", shapes, contextChannels, contextTokens),
  )
  const ff = linear(
    T.geglu(linear(norm(h, "norm3", channels), "ff.proj", channels, channels * 8)),
    "ff.out",
    channels * 4,
    channels,
  )
  h = T.add(h, ff)
  const loss = T.sum(T.mul(h, cotangent))
  const weights = topologicalOrder([loss]).filter((t) => t.op === "state")
  const grads = grad(loss, [x, ...weights])
  return {
    graph: { outputs: { y: h, ...Object.fromEntries(grads.map((g, i) => [`grad${i}`, g])) } },
    weights,
  }
}

const product = (dims) => dims.reduce((a, b) => a * b, 1)

/**
 * 2·M·N·K per distinct matrix product (batch included), counting attention as its two products. The
 * attention VJP rebuilds q·kᵀ, which the backend computes once (ONNX Runtime's common-subexpression pass
 * merges it with the forward's), so products are counted once per distinct pair of operands.
 */
export const matmulFlops = (graph) => {
  const seen = new Set()
  const operand = (t) => (t.op === "permute" ? `T${t.inputs[0].id}:${t.attrs.perm.join(",")}` : `${t.id}`)
  let flops = 0
  const count = (key, value) => {
    if (seen.has(key)) return
    seen.add(key)
    flops += value
  }
  for (const node of topologicalOrder(
    Object.values(lowerComposites(graph, new Set(["attention"])).outputs),
  )) {
    if (node.op === "matmul") {
      const k = node.inputs[0].shape.at(-1)
      count(`${operand(node.inputs[0])}|${operand(node.inputs[1])}`, 2 * product(node.shape) * k)
    } else if (node.op === "attention") {
      const [q, key, v] = node.inputs
      const lk = key.shape.at(-2)
      const perm = [...key.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : 2 * all.length - 3 - i))
      count(`${operand(q)}|T${key.id}:${perm.join(",")}`, 2 * product(q.shape) * lk)
      count(`attention-pv${node.id}`, 2 * product(q.shape.slice(0, -1)) * lk * v.shape.at(-1))
    }
  }
  return flops
}
