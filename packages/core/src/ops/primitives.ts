import type { DType } from "../tensor/dtype.js"
import type { Shape } from "../tensor/shape.js"

/** Convolution geometry shared by conv2d and its two gradients (NCHW activations, OIHW weights). */
export interface ConvAttrs {
  readonly stride: readonly [number, number]
  readonly padding: readonly [number, number]
  readonly dilation: readonly [number, number]
  readonly groups: number
}

type None = Record<never, never>

/**
 * The primitive ops: everything a backend must run. Composites (softmax, norms, attention, …) lower
 * to these. Binary ops broadcast like NumPy; inputs of an op share one dtype unless noted.
 */
export interface PrimitiveAttrs {
  // ── sources ──────────────────────────────────────────────────────────────
  input: { readonly name: string } // fed by the caller on every run
  state: { readonly name: string } // lives on the device between runs (weights, moments)
  constant: { readonly values: ReadonlyArray<number> } // small literal data, row-major
  full: { readonly value: number } // one value broadcast to the shape
  random: { readonly distribution: "uniform" | "normal" } // Philox stream; input: u32[4] key
  // ── elementwise unary ────────────────────────────────────────────────────
  neg: None
  exp: None
  log: None
  sqrt: None
  recip: None
  sin: None
  cos: None
  erf: None
  // ── elementwise binary (broadcasting) ────────────────────────────────────
  add: None
  sub: None
  mul: None
  div: None
  maximum: None
  less: None // → bool
  equal: None // → bool
  where: None // (bool condition, a, b) → a where true else b
  // ── reductions (f64-exact on the reference, ≥ f32 accumulation elsewhere) ──
  sum: { readonly axes: ReadonlyArray<number>; readonly keepDims: boolean }
  max: { readonly axes: ReadonlyArray<number>; readonly keepDims: boolean }
  // ── movement ─────────────────────────────────────────────────────────────
  reshape: { readonly shape: Shape }
  permute: { readonly perm: ReadonlyArray<number> }
  expand: { readonly shape: Shape }
  slice: { readonly begin: ReadonlyArray<number>; readonly end: ReadonlyArray<number> }
  concat: { readonly axis: number }
  pad: {
    readonly before: ReadonlyArray<number>
    readonly after: ReadonlyArray<number>
    readonly value: number
  }
  // ── indexing ─────────────────────────────────────────────────────────────
  gather: None // (table [V,…], indices i32/u32 […]) → […indices, …] rows of the table
  // ── linear algebra ───────────────────────────────────────────────────────
  matmul: None // [… M K] × [… K N], batch dims broadcast
  conv2d: ConvAttrs // (x [N C H W], w [O C/g kh kw])
  conv2dBackwardInput: ConvAttrs & { readonly inputShape: Shape } // (dy, w) → dx
  conv2dBackwardWeight: ConvAttrs & { readonly weightShape: Shape } // (x, dy) → dw
  upsampleNearest: { readonly scale: number } // last two dims × scale
  // ── dtype ────────────────────────────────────────────────────────────────
  cast: { readonly dtype: DType }
}

export type PrimitiveOp = keyof PrimitiveAttrs

// biome-ignore format: one line per group, as in PrimitiveAttrs
export const primitiveOps = [
  "input", "state", "constant", "full", "random",
  "neg", "exp", "log", "sqrt", "recip", "sin", "cos", "erf",
  "add", "sub", "mul", "div", "maximum", "less", "equal", "where",
  "sum", "max",
  "reshape", "permute", "expand", "slice", "concat", "pad",
  "gather",
  "matmul", "conv2d", "conv2dBackwardInput", "conv2dBackwardWeight", "upsampleNearest",
  "cast",
] as const satisfies ReadonlyArray<PrimitiveOp>

export type UnaryOp = "neg" | "exp" | "log" | "sqrt" | "recip" | "sin" | "cos" | "erf"
export type BinaryOp = "add" | "sub" | "mul" | "div" | "maximum" | "less" | "equal"
