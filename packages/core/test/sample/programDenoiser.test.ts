import { Effect } from "effect"
import { expect, it } from "vitest"
import {
  Backend,
  type DeviceBuffer,
  hostTensor,
  Reference,
  Sample,
  tinySd1UNet,
  unet,
  unetPrefix,
  WeightScope,
} from "../../src/index.js"
import { syntheticFeeds } from "../../src/testing/syntheticWeights.js"

// The README's sampling example on the reference backend, against the same graph evaluated in f64.
it("samples with a compiled denoiser program as with the graph evaluated exactly", async () => {
  const [batch, height, width, length, dim] = [2, 4, 4, 3, tinySd1UNet.contextDim]
  const scope = WeightScope.root()
  const { graph, denoised } = Sample.denoiserGraph(
    (inputs) => unet(scope.at(unetPrefix), tinySd1UNet, inputs),
    {
      batch,
      height,
      width,
      contextLength: length,
      contextDim: dim,
    },
  )
  const weights = syntheticFeeds(scope.manifest())
  const context = (phase: number) =>
    Float32Array.from({ length: batch * length * dim }, (_, i) => Math.sin(0.3 * i + phase))
  const [cond, uncond] = [context(0.5), context(2)]
  const noise = () =>
    new Sample.ImageNoise({ rng: "nv", seeds: Sample.batchSeeds(7, batch), size: 4 * height * width })
  const options = { ...Sample.parseSamplerName("Euler a"), steps: 3, eta: 1 }

  const program = Effect.gen(function* () {
    const backend = yield* Backend
    const compiled = yield* backend.compile(graph)
    const states: Record<string, DeviceBuffer> = {}
    for (const [key, values] of Object.entries(weights)) {
      const entry = scope.manifest().get(key)!
      states[key] = yield* backend.upload(hostTensor("f32", entry.shape, Float32Array.from(values)))
    }
    const denoise = Sample.programDenoiser(
      compiled,
      {
        cond: hostTensor("f32", [batch, length, dim], cond),
        uncond: hostTensor("f32", [batch, length, dim], uncond),
        cfg_scale: Sample.cfgScaleInput(5),
      },
      states,
    )
    return yield* Sample.sample({ ...options, noise: noise(), denoise })
  })
  const latents = await Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(Reference.layer)))

  const exact = Reference.compileExact([denoised])
  const exactDenoise: Sample.Denoiser = (x, sigma) =>
    Effect.sync(() =>
      Float32Array.from(
        exact({
          ...weights,
          x: Float64Array.from(x),
          sigma: new Float64Array(batch).fill(sigma),
          cond: Float64Array.from(cond),
          uncond: Float64Array.from(uncond),
          cfg_scale: Float64Array.of(5),
        })[0]!,
      ),
    )
  const expected = Effect.runSync(Sample.sample({ ...options, noise: noise(), denoise: exactDenoise }))
  expect(latents.length).toBe(batch * 4 * height * width)
  for (const [i, v] of expected.entries()) expect(Math.abs(latents[i]! - v)).toBeLessThan(1e-4)
})
