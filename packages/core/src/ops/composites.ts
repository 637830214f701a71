/**
 * Composite ops: recorded as single nodes so a backend with a fused kernel can run them whole; every
 * other backend runs their decomposition into primitives (see `composites/`). Their gradients are
 * rules in the one VJP table, written with ops, so no backend ever writes a gradient.
 */
export interface CompositeAttrs {
  softmax: { readonly axis: number }
  layerNorm: { readonly eps: number } // (x, weight, bias) over the last dim
  groupNorm: { readonly groups: number; readonly eps: number } // (x [N C …], weight [C], bias [C])
  gelu: Record<never, never> // exact (erf) GELU, as torch's default
  geglu: Record<never, never> // [… 2D] → hidden · gelu(gate), hidden the first half
  silu: Record<never, never>
  attention: { readonly scale: number } // (q [… Lq D], k [… Lk D], v [… Lk Dv], additive mask?)
}

export type CompositeOp = keyof CompositeAttrs

export const compositeOps = [
  "softmax",
  "layerNorm",
  "groupNorm",
  "gelu",
  "geglu",
  "silu",
  "attention",
] as const satisfies ReadonlyArray<CompositeOp>
