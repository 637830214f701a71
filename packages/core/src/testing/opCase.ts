import type { DType } from "../tensor/dtype.js"
import type { Shape } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"

/** How a conformance input is drawn. Floats take the dtype under test; the others fix their own. */
export type InputKind =
  | { readonly kind: "float"; readonly low?: number; readonly high?: number }
  | { readonly kind: "index"; readonly below: number; readonly dtype?: "i32" | "u32" }
  | { readonly kind: "bool" }
  | { readonly kind: "key" }

export interface InputSpec {
  readonly shape: Shape
  readonly draw?: InputKind
}

/** One conformance case: tensors built from freshly drawn inputs, checked forward and (where smooth) backward. */
export interface OpCase {
  readonly name: string
  readonly inputs: ReadonlyArray<InputSpec>
  readonly build: (inputs: ReadonlyArray<Tensor>, dtype: DType) => Tensor
  /** Whether to check the VJP with respect to the float inputs (default true). */
  readonly differentiable?: boolean
  /** Float dtypes this case runs in (default: all that the run asks for). */
  readonly dtypes?: ReadonlyArray<DType>
  /** Scales the run's tolerance for this case (long reductions, ill-conditioned ops). */
  readonly toleranceScale?: number
}
