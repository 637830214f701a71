import { Backend, type DeviceBuffer, type Graph, type HostTensor, T, type Tensor } from "@danlu/core"
import { compareDeviceSampling } from "@danlu/core/testing"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { globals } from "webgpu"
import { makeWebGpuBackend } from "../src/backend/WebGpuBackend.js"
import { acquireDevice } from "../src/device/acquireDevice.js"
import { makeGpuContext } from "../src/device/gpuContext.js"
import { unavailableReason } from "./adapter.js"

const skip = await unavailableReason()

const shape = [1, 4, 8, 8]
const steps = 20
const sigmas = Array.from({ length: steps + 1 }, (_, i) => (i === steps ? 0 : 10 * (1 - i / steps) + 0.1))
const scalar = (v: number): HostTensor => ({ dtype: "f32", shape: [], data: Float32Array.of(v) })
const initial = (): HostTensor => ({
  dtype: "f32",
  shape,
  data: Float32Array.from({ length: 256 }, (_, i) => Math.sin(i)),
})

/** One Euler step of a stand-in denoiser (denoised = x / (σ² + 1)), as k-diffusion's sample_euler takes it. */
const eulerStep = (x: Tensor): Tensor => {
  const sigma = T.input("sigma", [])
  const denoised = T.div(x, T.add(T.mul(sigma, sigma), 1))
  const d = T.div(T.sub(x, denoised), sigma)
  return T.add(x, T.mul(d, T.sub(T.input("sigmaNext", []), sigma)))
}

const gpuGlobals = globals as unknown as { GPUBuffer: typeof GPUBuffer; GPUQueue: typeof GPUQueue }
const readMode = 1

/**
 * Bytes of buffers mapped for reading on the host, and bytes of per-run queue writes (uploads of inputs),
 * while `f` runs.
 */
const countHostCopies = async <A>(
  f: () => Promise<A>,
): Promise<{ result: A; read: number; written: number }> => {
  const counts = { read: 0, written: 0 }
  const { mapAsync } = gpuGlobals.GPUBuffer.prototype
  const { writeBuffer } = gpuGlobals.GPUQueue.prototype
  gpuGlobals.GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, mode: number, ...rest: Array<number>) {
    if (mode & readMode) counts.read += this.size
    return mapAsync.call(this, mode, ...rest)
  }
  gpuGlobals.GPUQueue.prototype.writeBuffer = function (this: GPUQueue, ...args: Array<unknown>) {
    counts.written += (args[2] as ArrayBufferView).byteLength
    return (writeBuffer as (...a: Array<unknown>) => undefined).apply(this, args)
  }
  try {
    const result = await f()
    return { result, ...counts }
  } finally {
    gpuGlobals.GPUBuffer.prototype.mapAsync = mapAsync
    gpuGlobals.GPUQueue.prototype.writeBuffer = writeBuffer
  }
}

const onDevice = <A>(
  use: (backend: ReturnType<typeof makeWebGpuBackend>) => Effect.Effect<A, unknown, never>,
) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(acquireDevice(), (acquired) => use(makeWebGpuBackend(makeGpuContext(acquired)))),
    ),
  )

describe.skipIf(skip !== undefined)("a sampler loop keeps its latents on the device", () => {
  it("as a state the step updates, reading back only the final latents", async () => {
    const sigmaFeeds = (i: number) => ({ sigma: scalar(sigmas[i]!), sigmaNext: scalar(sigmas[i + 1]!) })

    // Before: the latents are an output, read back every step and sent again as the next input.
    const roundTrip = await countHostCopies(() =>
      onDevice((backend) =>
        Effect.scoped(
          Effect.gen(function* () {
            const program = yield* backend.compile({ outputs: { x: eulerStep(T.input("x", shape)) } })
            let x = initial()
            for (let i = 0; i < steps; i++) x = (yield* program.run({ x, ...sigmaFeeds(i) })).x!
            return x
          }),
        ),
      ),
    )

    // After: the latents are a state the step overwrites; the host sees them once, at the end.
    const resident = await countHostCopies(() =>
      onDevice((backend) =>
        Effect.scoped(
          Effect.gen(function* () {
            const x = T.state("x", shape)
            const graph: Graph = { outputs: {}, updates: { x: eulerStep(x) } }
            const program = yield* backend.compile(graph)
            const latents: DeviceBuffer = yield* backend.upload(initial())
            for (let i = 0; i < steps; i++) yield* program.run(sigmaFeeds(i), { x: latents })
            return yield* backend.download(latents)
          }),
        ),
      ),
    )

    const latentBytes = 256 * 4
    expect(roundTrip.read).toBe(steps * latentBytes)
    expect(resident.read).toBe(latentBytes)
    // Each step still sends its two σ (4 bytes each); the latents went up once, with the upload.
    expect(resident.written).toBe(steps * 8)
    expect(roundTrip.written).toBe(steps * (latentBytes + 8))
    expect(resident.result.data).toEqual(roundTrip.result.data)

    const expected = Array.from(initial().data)
    for (let i = 0; i < steps; i++) {
      const [s, next] = [sigmas[i]!, sigmas[i + 1]!]
      for (let j = 0; j < expected.length; j++) {
        const x = expected[j]!
        expected[j] = x + ((x - x / (s * s + 1)) / s) * (next - s)
      }
    }
    for (const [j, v] of expected.entries()) expect(resident.result.data[j]).toBeCloseTo(v, 4)
  })
})

describe.skipIf(skip !== undefined)("Sample.sampleOnDevice on WebGPU", () => {
  for (const sampler of ["DPM++ 2M", "Euler a"] as const) {
    it(`${sampler}: reads back the final latents once, and gives the host loop's latents`, async () => {
      const steps = 6
      const copies = await countHostCopies(() =>
        onDevice((backend) =>
          compareDeviceSampling({ sampler, steps, height: 8, width: 8 }).pipe(
            Effect.provideService(Backend, backend),
          ),
        ),
      )
      const { result } = copies
      const latentBytes = result.host.byteLength
      // Every run of the host loop maps its denoised output; the device loop maps the final latents only.
      expect(copies.read).toBe((steps + 1) * latentBytes)
      expect(result.deviceTraffic.downloadBytes).toBe(latentBytes)
      expect(result.deviceTraffic.outputBytes).toBe(0)
      for (const [i, v] of result.host.entries()) expect(result.device[i]).toBeCloseTo(v, 5)
      const exact = result.device.filter((v, i) => v === result.host[i]).length
      process.stderr.write(
        `${sampler} on WebGPU: ${exact}/${result.host.length} latents bit-equal to the host loop\n`,
      )
    })
  }
})
