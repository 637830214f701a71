import { cast } from "../ops/cast.js"
import { div, exp, greater, less, maximum, mul, neg, sqrt, square, sub } from "../ops/elementwise.js"
import { sum } from "../ops/reduce.js"
import { full } from "../ops/sources.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import { zerosHost } from "../tensor/hostTensor.js"
import { type Shape, sizeOf } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"

/** `base^t` for a constant base and an f32 step tensor (bias corrections), written so base 0 needs no log(0). */
export const powStep = (base: number, t: Tensor): Tensor =>
  base === 0 ? full(0, [], t.dtype) : exp(mul(t, Math.log(base)))

/** torch.sign: −1, 0 or 1. */
export const sign = (x: Tensor): Tensor => sub(cast(greater(x, 0), x.dtype), cast(less(x, 0), x.dtype))

/** ‖x‖₂ / √numel, as transformers' Adafactor `_rms` computes it. */
export const rms = (x: Tensor): Tensor => div(sqrt(sum(square(x))), Math.sqrt(sizeOf(x.shape)))

/** A host scalar or tensor filled with one value, f32 (what group-wide states start from). */
export const hostFull = (value: number, shape: Shape = []): HostTensor => {
  const host = zerosHost("f32", shape)
  host.data.fill(value)
  return host
}

/** |x|, as the larger of x and −x. */
export const abs = (x: Tensor): Tensor => maximum(x, neg(x))
