import { type DiscreteSchedule, tToSigma } from "./discreteSchedule.js"

/**
 * The sigma sequences k-diffusion samplers walk, each ending in 0 (`append_zero`), computed as torch
 * computes them in float32 (values rounded to float32, held as f64 numbers).
 */

/** torch.linspace: the first half counts up from `start`, the second half down from `end`. */
const linspace = (start: number, end: number, n: number): Float64Array => {
  const out = new Float64Array(n)
  if (n === 1) {
    out[0] = start
    return out
  }
  const step = (end - start) / (n - 1)
  const half = Math.floor(n / 2)
  for (let i = 0; i < n; i++) out[i] = i < half ? start + i * step : end - (n - 1 - i) * step
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
 * and Heun: n timesteps evenly spaced from 999 down to 0 (float32 `linspace`), mapped to sigma.
 */
export const uniformSigmas = (schedule: DiscreteSchedule, steps: number): Float64Array => {
  checkSteps(steps)
  const t = linspace(schedule.sigmas.length - 1, 0, steps)
  return withZero(t.map((value) => tToSigma(schedule, Math.fround(value))))
}

/** k-diffusion `get_sigmas_karras` (Karras et al. 2022, eq. 5): evenly spaced in sigma^(1/rho). */
export const karrasSigmas = (steps: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array => {
  checkSteps(steps)
  const minInvRho = sigmaMin ** (1 / rho)
  const maxInvRho = sigmaMax ** (1 / rho)
  const ramp = linspace(0, 1, steps)
  return withZero(ramp.map((r) => (maxInvRho + Math.fround(r) * (minInvRho - maxInvRho)) ** rho))
}

/** k-diffusion `get_sigmas_exponential`: evenly spaced in log sigma. */
export const exponentialSigmas = (steps: number, sigmaMin: number, sigmaMax: number): Float64Array => {
  checkSteps(steps)
  return withZero(
    linspace(Math.log(sigmaMax), Math.log(sigmaMin), steps).map((l) => Math.exp(Math.fround(l))),
  )
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
