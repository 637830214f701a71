import type { DiscreteSchedule } from "./discreteSchedule.js"

/**
 * The sigma sequences k-diffusion samplers walk, each ending in 0 (`append_zero`), computed as torch
 * computes them in float32 (values rounded to float32, held as f64 numbers).
 */

/**
 * torch.linspace in float32 as CUDA computes it: the step (end − start)/(n − 1) in float32; the first half
 * counts up from `start`, the second half down from `end`, each value one fused multiply-add (start +
 * step·i) rounded once.
 */
const linspace = (start: number, end: number, n: number): Float64Array => {
  const out = new Float64Array(n)
  const from = Math.fround(start)
  const to = Math.fround(end)
  if (n === 1) {
    out[0] = from
    return out
  }
  const step = Math.fround((to - from) / (n - 1))
  const half = Math.floor(n / 2)
  for (let i = 0; i < n; i++) out[i] = Math.fround(i < half ? from + step * i : to - step * (n - 1 - i))
  return out
}

/**
 * torch.linspace in float32 as the CPU computes it with AVX2 kernels: blocks of 16 values as two vectors of
 * 8, each vector's first value as above and the rest first + step·j rounded twice; the tail as above.
 * (torch 1.13 on x86; it gives every value torch gives there for 3 to 50 steps.)
 */
const cpuLinspace = (start: number, end: number, n: number): Float64Array => {
  const out = linspace(start, end, n)
  const step = n > 1 ? Math.fround((Math.fround(end) - Math.fround(start)) / (n - 1)) : 0
  for (let block = 0; block + 16 <= n; block += 16) {
    for (const first of [block, block + 8]) {
      for (let j = 1; j < 8; j++) out[first + j] = Math.fround(out[first]! + Math.fround(step * j))
    }
  }
  return out
}

const checkSteps = (steps: number): void => {
  if (!Number.isInteger(steps) || steps < 1)
    throw new RangeError(`steps must be a positive integer, got ${steps}`)
}

const withZero = (values: ArrayLike<number>): Float64Array => {
  const out = new Float64Array(values.length + 1)
  for (let i = 0; i < values.length; i++) out[i] = Math.fround(values[i]!)
  return out
}

/**
 * k-diffusion `DiscreteSchedule.get_sigmas(n)` — A1111's "Uniform", and its "Automatic" for Euler, Euler a
 * and Heun: n timesteps evenly spaced from 999 down to 0 (float32 `linspace`), mapped to sigma. A1111
 * builds these on the GPU (the Karras and exponential ones on the CPU), so the linspace is CUDA's.
 */
export const uniformSigmas = (schedule: DiscreteSchedule, steps: number): Float64Array => {
  checkSteps(steps)
  const logSigmas = schedule.logSigmas
  const f32 = Math.fround
  // `t_to_sigma` on float32 tensors: every op rounded to float32.
  return withZero(
    linspace(schedule.sigmas.length - 1, 0, steps).map((t) => {
      const low = Math.floor(t)
      const w = t - low
      return Math.exp(f32(f32(f32(1 - w) * logSigmas[low]!) + f32(w * logSigmas[Math.ceil(t)]!)))
    }),
  )
}

/** k-diffusion `get_sigmas_karras` (Karras et al. 2022, eq. 5): evenly spaced in sigma^(1/rho). */
export const karrasSigmas = (steps: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array => {
  checkSteps(steps)
  const f32 = Math.fround
  // sigma^(1/rho) in float64 (Python floats), the ramp (on the CPU) and the power on float32 tensors.
  const minInvRho = sigmaMin ** (1 / rho)
  const maxInvRho = f32(sigmaMax ** (1 / rho))
  const span = f32(minInvRho - sigmaMax ** (1 / rho))
  return withZero(cpuLinspace(0, 1, steps).map((r) => f32(maxInvRho + f32(r * span)) ** rho))
}

/** k-diffusion `get_sigmas_exponential`: evenly spaced in log sigma. */
export const exponentialSigmas = (steps: number, sigmaMin: number, sigmaMax: number): Float64Array => {
  checkSteps(steps)
  return withZero(cpuLinspace(Math.log(sigmaMax), Math.log(sigmaMin), steps).map((l) => Math.exp(l)))
}

/**
 * The DDPM timesteps A1111's DDIM visits (`sd_samplers_timesteps.py` get_timesteps):
 * `range(0, 1000, 1000 // steps) + 1`, clipped to 999. The sampler walks them from the last down and
 * never evaluates the first, so 20 steps run 19 model calls and 30 steps (a stride of 33) run 30.
 */
export const ddimTimesteps = (steps: number, timesteps = 1000): Int32Array => {
  checkSteps(steps)
  if (steps > timesteps) throw new RangeError(`DDIM takes at most ${timesteps} steps, got ${steps}`)
  const stride = Math.floor(timesteps / steps)
  const out: number[] = []
  for (let t = 0; t < timesteps; t += stride) out.push(Math.min(t + 1, timesteps - 1))
  return Int32Array.from(out)
}
