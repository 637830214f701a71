import type { Sample } from "@danlu/core"
import { compareDeviceSampling } from "@danlu/core/testing"
import { afterAll, describe, expect, it } from "vitest"
import { onnxRuntime } from "./support.js"

const runtime = onnxRuntime()
afterAll(() => runtime.dispose())

// ONNX Runtime runs the sampler's update on its side as the reference executor does: the same f32 latents
// as the f64 host loop, bit for bit, and nothing but the final latents handed back.
describe("sampling with the latents kept by ONNX Runtime", () => {
  const cases: Array<Sample.SamplerSettings & { rng?: Sample.RngName }> = [
    { sampler: "Euler", steps: 4 },
    { sampler: "Euler a", steps: 4, rng: "nv" },
    { sampler: "Heun", scheduler: "karras", steps: 3 },
    { sampler: "DPM++ 2M", steps: 4 },
    { sampler: "DPM++ SDE", scheduler: "exponential", steps: 3 },
    { sampler: "DDIM", steps: 4, eta: 0.7 },
  ]
  for (const settings of cases) {
    it(`${settings.sampler} ${settings.scheduler ?? ""}`, async () => {
      const result = await runtime.runPromise(compareDeviceSampling({ ...settings, height: 8, width: 8 }))
      expect(Array.from(result.device)).toEqual(Array.from(result.host))
      expect(result.hostTraffic.outputBytes).toBe(result.hostTraffic.runs * result.host.byteLength)
      expect(result.deviceTraffic.outputBytes).toBe(0)
      expect(result.deviceTraffic.downloadBytes).toBe(result.host.byteLength)
    })
  }
})
