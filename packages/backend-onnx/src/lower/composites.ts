import type { CompositeOp } from "@danlu/core"
import type { Emitter } from "./emitContext.js"

/**
 * Composites as fused ONNX ops. Each computes in f32 with f32 statistics (`stash_type` 1) and, for 16-bit
 * dtypes, is rounded once at the end, where the decomposition would round after every step.
 */
export const compositeEmitters: { readonly [Op in CompositeOp]: Emitter<Op> } = {
  softmax: (ctx, node, [x]) => ctx.b.op("Softmax", [x!], { axis: { int: node.attrs.axis } }),
  layerNorm: (ctx, node, [x, w, bias]) =>
    ctx.b.op("LayerNormalization", [x!, w!, bias!], {
      axis: { int: -1 },
      epsilon: { float: node.attrs.eps },
      stash_type: { int: 1 },
    }),
  groupNorm: (ctx, node, [x, w, bias]) => {
    const shape = node.shape
    // GroupNormalization wants spatial dims; a [N C] input gets one of size 1.
    const spatial = shape.length === 2 ? ctx.reshape(x!, [...shape, 1]) : x!
    const y = ctx.b.op("GroupNormalization", [spatial, w!, bias!], {
      num_groups: { int: node.attrs.groups },
      epsilon: { float: node.attrs.eps },
      stash_type: { int: 1 },
    })
    return shape.length === 2 ? ctx.reshape(y, shape) : y
  },
  gelu: (ctx, _, [x]) => ctx.b.op("Gelu", [x!]),
  geglu: (ctx, node, [x]) => {
    const shape = node.inputs[0]!.shape
    const half = node.shape[node.shape.length - 1]!
    const begin = shape.map(() => 0)
    const hidden = ctx.slice(x!, begin, [...shape.slice(0, -1), half])
    const gate = ctx.slice(x!, [...begin.slice(0, -1), half], shape)
    return ctx.b.op("Mul", [hidden, ctx.b.op("Gelu", [gate])])
  },
  silu: (ctx, _, [x]) => ctx.b.op("Mul", [x!, ctx.b.op("Sigmoid", [x!])]),
  attention: (ctx, node, [q, k, v, mask]) => {
    // Emitted node for node as core's attention VJP rebuilds the probabilities (softmax(q·kᵀ·scale +
    // mask) over the last axis), so ONNX Runtime's common-subexpression pass can share the forward's
    // scores and probabilities with the backward pass instead of computing them twice.
    const rank = node.shape.length
    const perm = [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2]
    const scores = ctx.b.op("Mul", [
      ctx.b.op("MatMul", [q!, ctx.transpose(k!, perm)]),
      ctx.scalarOf("f32", node.attrs.scale),
    ])
    const masked = mask === undefined ? scores : ctx.b.op("Add", [scores, mask])
    const probabilities = ctx.b.op("Softmax", [masked], { axis: { int: rank - 1 } })
    return ctx.b.op("MatMul", [probabilities, v!])
  },
}
