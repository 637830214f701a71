import { add, div, equal, greater, less, mul, sqrt, sub, where } from "../ops/elementwise.js"
import { gather } from "../ops/indexing.js"
import { pad, reshape, slice } from "../ops/movement.js"
import { max } from "../ops/reduce.js"
import { constant, full, state } from "../ops/sources.js"
import { type HostTensor, zerosHost } from "../tensor/hostTensor.js"
import { sizeOf } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"
import { dynamicMap } from "./dynamicMap.js"
import type { Optimizer } from "./optimizer.js"
import { paramStateName } from "./optimizer.js"
import type { OptimizerArgs } from "./optimizerArgs.js"
import { abs, powStep } from "./stepMath.js"

export interface AdamW8bitOptions {
  readonly beta1?: number
  readonly beta2?: number
  readonly eps?: number
  readonly weightDecay?: number
  /** Parameters with fewer elements keep float32 states (bitsandbytes' min_8bit_size). */
  readonly min8bitSize?: number
}

/** Elements per quantization block (bitsandbytes ≥ 0.44.0). */
export const blockSize8bit = 256

/** Number of per-block absmax values of a parameter with `n` elements. */
export const blockCount8bit = (n: number): number => Math.ceil(n / blockSize8bit)

/** The quantization midpoints between neighbouring map entries, and which of them round ties up (see `quantize`). */
const thresholds = (map: Float32Array) => ({
  mid: constant(
    Array.from({ length: 255 }, (_, j) => Math.fround((map[j]! + map[j + 1]!) / 2)),
    [255],
  ),
  // bitsandbytes' binary search ends on an even code and keeps it on a tie, so a tie at the midpoint between
  // codes j and j+1 goes up exactly when j+1 is even.
  tieUp: constant(
    Array.from({ length: 255 }, (_, j) => j % 2),
    [255],
    "u32",
  ),
})

/** Nearest map code of each x in [−1, 1]: an 8-step binary search over the 255 midpoints, in the graph. */
const quantize = (x: Tensor, table: ReturnType<typeof thresholds>): Tensor => {
  let code: Tensor = full(0, x.shape, "u32")
  for (let bit = 128; bit >= 1; bit >>= 1) {
    const index = add(code, bit - 1)
    const midpoint = gather(table.mid, index)
    const up = where(greater(x, midpoint), 1, where(equal(x, midpoint), gather(table.tieUp, index), 0))
    code = add(code, mul(up, bit))
  }
  return code
}

/**
 * bitsandbytes' AdamW8bit (`optim/adamw.py`; kernel kOptimizerStatic8bit2StateBlockwise): both moments stored as
 * 8-bit codes into the signed (m) and unsigned (v) dynamic maps, with one float32 absmax per block of 256 elements.
 * Each step dequantizes, updates the moments in float32 (to 0 where g is not finite), takes new block absmaxes,
 * steps p ← p − lr·(√(1−β2^t)/(1−β1^t))·m/(√v + eps·√(1−β2^t)), THEN decays p ← p·(1 − lr·wd), and requantizes to
 * the nearest code. Parameters under min_8bit_size elements keep float32 moments (the 32-bit kernel, same step).
 *
 * State names follow bitsandbytes: `state1`/`state2` (codes, or float32 moments) and `absmax1`/`absmax2`. Codes are
 * stored as u32, the closest core dtype to uint8 (4 bytes per code where bitsandbytes uses 1).
 */
export const adamW8bit = (options: AdamW8bitOptions = {}): Optimizer => {
  const beta1 = options.beta1 ?? 0.9
  const beta2 = options.beta2 ?? 0.999
  const eps = options.eps ?? 1e-8
  const weightDecay = options.weightDecay ?? 0.01
  const minSize = options.min8bitSize ?? 4096
  const signedMap = dynamicMap(true)
  const unsignedMap = dynamicMap(false)
  const quantized = (n: number) => n >= minSize
  const names = (param: string) => ({
    state1: paramStateName(param, "state1"),
    state2: paramStateName(param, "state2"),
    absmax1: paramStateName(param, "absmax1"),
    absmax2: paramStateName(param, "absmax2"),
  })
  return {
    type: "AdamW8bit",
    lrRole: "step-size",
    update: (groups, step) => {
      const correction1 = sub(1, powStep(beta1, step))
      const correction2 = sqrt(sub(1, powStep(beta2, step)))
      const map1 = constant(signedMap, [256])
      const map2 = constant(unsignedMap, [256])
      const table1 = thresholds(signedMap)
      const table2 = thresholds(unsignedMap)
      const updates: Record<string, Tensor> = {}
      // The group's scalars are built once, not once per parameter (ONNX Runtime runs without CSE, ADR 0011).
      const epsilon = mul(correction2, eps)
      for (const { trainables, lr } of groups) {
        const stepSize = div(mul(lr, correction2), correction1)
        const decay = weightDecay > 0 ? sub(1, mul(lr, weightDecay)) : undefined
        const stepParam = (p: Tensor, m: Tensor, v: Tensor) => {
          const stepped = sub(p, mul(stepSize, div(m, add(sqrt(v), epsilon))))
          return decay === undefined ? stepped : mul(stepped, decay)
        }
        for (const { param, grad } of trainables) {
          const n = names(param.attrs.name)
          const size = sizeOf(param.shape)
          if (!quantized(size)) {
            const m = add(mul(state(n.state1, param.shape), beta1), mul(grad, 1 - beta1))
            const v = add(mul(state(n.state2, param.shape), beta2), mul(mul(grad, 1 - beta2), grad))
            updates[n.state1] = m
            updates[n.state2] = v
            updates[param.attrs.name] = stepParam(param, m, v)
            continue
          }
          const blocks = blockCount8bit(size)
          const padding = blocks * blockSize8bit - size
          const blocked = (x: Tensor, fill: number) =>
            reshape(pad(reshape(x, [size]), [0], [padding], fill), [blocks, blockSize8bit])
          const unblocked = (x: Tensor) =>
            reshape(slice(reshape(x, [blocks * blockSize8bit]), [0], [size]), param.shape)
          const g = blocked(grad, 0)
          // bitsandbytes loads the codes of a partial block's missing elements as 128 (m) and 0 (v).
          const codes1 = blocked(state(n.state1, param.shape, "u32"), 128)
          const codes2 = blocked(state(n.state2, param.shape, "u32"), 0)
          const absmax1 = reshape(state(n.absmax1, [blocks]), [blocks, 1])
          const absmax2 = reshape(state(n.absmax2, [blocks]), [blocks, 1])
          const finite = equal(sub(g, g), 0)
          const m = where(finite, add(mul(mul(gather(map1, codes1), absmax1), beta1), mul(g, 1 - beta1)), 0)
          const v = where(
            finite,
            add(mul(mul(gather(map2, codes2), absmax2), beta2), mul(mul(g, 1 - beta2), g)),
            0,
          )
          const newAbsmax1 = max(abs(m), 1, true)
          const newAbsmax2 = max(v, 1, true)
          const p = blocked(param, 0)
          updates[param.attrs.name] = unblocked(where(finite, stepParam(p, m, v), p))
          const nearest1 = quantize(div(m, where(equal(newAbsmax1, 0), 1, newAbsmax1)), table1)
          // A negative m that rounds to the code of 0 is moved to the smallest negative code, keeping its sign;
          // a block of zeros (absmax 0, where bitsandbytes divides 0 by 0) ends on code 255 the same way.
          const signKept = where(less(m, 0), where(equal(nearest1, 127), 126, nearest1), nearest1)
          updates[n.state1] = unblocked(where(equal(newAbsmax1, 0), 255, signKept))
          updates[n.state2] = unblocked(quantize(div(v, where(equal(newAbsmax2, 0), 1, newAbsmax2)), table2))
          updates[n.absmax1] = reshape(newAbsmax1, [blocks])
          updates[n.absmax2] = reshape(newAbsmax2, [blocks])
        }
      }
      return updates
    },
    initialState: (groups) => {
      const init: Record<string, HostTensor> = {}
      for (const { name, shape } of groups.flat()) {
        const n = names(name)
        const size = sizeOf(shape)
        if (!quantized(size)) {
          init[n.state1] = zerosHost("f32", shape)
          init[n.state2] = zerosHost("f32", shape)
          continue
        }
        init[n.state1] = zerosHost("u32", shape)
        init[n.state2] = zerosHost("u32", shape)
        init[n.absmax1] = zerosHost("f32", [blockCount8bit(size)])
        init[n.absmax2] = zerosHost("f32", [blockCount8bit(size)])
      }
      return init
    },
  }
}

/** AdamW8bit from kohya's optimizer_args (betas, eps, weight_decay, min_8bit_size), bitsandbytes' defaults. */
export const adamW8bitFromArgs = (args: OptimizerArgs): Optimizer => {
  const [beta1, beta2] = args.pair("betas", [0.9, 0.999])
  const options: AdamW8bitOptions = {
    beta1,
    beta2,
    eps: args.number("eps", 1e-8, { min: 0 }),
    weightDecay: args.number("weight_decay", 0.01, { min: 0 }),
    min8bitSize: args.number("min_8bit_size", 4096, { min: 0, integer: true }),
  }
  args.done()
  return adamW8bit(options)
}
