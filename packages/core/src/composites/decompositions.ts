import type { CompositeOp } from "../ops/composites.js"
import type { Tensor } from "../tensor/tensor.js"
import { decomposeGeglu, decomposeGelu, decomposeSilu } from "./activations.js"
import { decomposeAttention } from "./attention.js"
import { decomposeGroupNorm } from "./groupNorm.js"
import { decomposeLayerNorm } from "./layerNorm.js"
import { decomposeSoftmax } from "./softmax.js"

type Decomposition<Op extends CompositeOp> = (node: Tensor<Op>, inputs: ReadonlyArray<Tensor>) => Tensor

/** How each composite is built from primitives (and possibly other composites, lowered in turn). */
export const decompositions: { readonly [Op in CompositeOp]: Decomposition<Op> } = {
  softmax: (node, [x]) => decomposeSoftmax(x!, node.attrs.axis),
  layerNorm: (node, [x, w, b]) => decomposeLayerNorm(x!, w!, b!, node.attrs.eps),
  groupNorm: (node, [x, w, b]) => decomposeGroupNorm(x!, w!, b!, node.attrs.groups, node.attrs.eps),
  gelu: (_, [x]) => decomposeGelu(x!),
  geglu: (_, [x]) => decomposeGeglu(x!),
  silu: (_, [x]) => decomposeSilu(x!),
  attention: (node, [q, k, v, mask]) => decomposeAttention(q!, k!, v!, node.attrs.scale, mask),
}
