import { mul, sigmoid } from "../ops/elementwise.js"
import type { Tensor } from "../tensor/tensor.js"

export { gelu, silu } from "../composites/activations.js"

/** OpenAI CLIP's `x·sigmoid(1.702·x)` (CLIP ViT-L/14, SD1's text encoder); OpenCLIP models use exact GELU. */
export const quickGelu = (x: Tensor): Tensor => mul(x, sigmoid(mul(x, 1.702)))
