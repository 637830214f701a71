import { Effect, type Scope } from "effect"
import { Backend, type BackendShape, type Program } from "../backend/Backend.js"
import type { BackendError } from "../errors.js"
import { add, mul, sin } from "../ops/elementwise.js"
import { reshape } from "../ops/movement.js"
import { mean } from "../ops/reduce.js"
import {
  cfgScaleInput,
  type DenoiserGraphOptions,
  denoiserGraph,
  ImageNoise,
  programDenoiser,
  type RngName,
  type SamplerSettings,
  sample,
  sampleOnDevice,
  samplerGraph,
  type UNetBuilder,
} from "../sample/index.js"
import { type HostTensor, hostTensor } from "../tensor/hostTensor.js"
import { sizeOf } from "../tensor/shape.js"

/**
 * A stand-in UNet, cheap on any backend, whose output depends on the latents, the timestep and the
 * context (so guidance matters): eps = 0.7·x + 0.3·sin(t/100) + 0.5·mean(context).
 */
export const stubUNet: UNetBuilder = (inputs) => {
  const rows = inputs.x.shape[0]!
  const time = reshape(mul(sin(mul(inputs.timesteps, 0.01)), 0.3), [rows, 1, 1, 1])
  const context = reshape(mul(mean(inputs.context, [1, 2]), 0.5), [rows, 1, 1, 1])
  return add(add(mul(inputs.x, 0.7), time), context)
}

/** Host bytes a program's runs returned and downloads read, how many runs there were, and their wall time. */
export interface HostTraffic {
  runs: number
  outputBytes: number
  downloadBytes: number
  /** Milliseconds from the compiled program's first run to the final latents. */
  ms: number
}

const bytesOf = (t: HostTensor): number => t.data.byteLength

/** The backend with every byte that comes back to the host through its API counted into `traffic`. */
export const countHostTraffic = (backend: BackendShape, traffic: HostTraffic): BackendShape => ({
  ...backend,
  download: (buffer) =>
    Effect.tap(backend.download(buffer), (t) =>
      Effect.sync(() => {
        traffic.downloadBytes += bytesOf(t)
      }),
    ),
  compile: (graph) =>
    Effect.map(
      backend.compile(graph),
      (program): Program => ({
        ...program,
        run: (inputs, states) =>
          Effect.tap(program.run(inputs, states), (outputs) =>
            Effect.sync(() => {
              traffic.runs++
              for (const t of Object.values(outputs)) traffic.outputBytes += bytesOf(t)
            }),
          ),
      }),
    ),
})

export interface SamplingComparison {
  /** The host loop over a `denoiserGraph` program (the latents go through the host every evaluation). */
  readonly host: Float32Array
  readonly hostTraffic: HostTraffic
  /** `sampleOnDevice` over a `samplerGraph` program. */
  readonly device: Float32Array
  readonly deviceTraffic: HostTraffic
}

/**
 * Samples a batch twice on the backend in context with the same model (`unet`, default `stubUNet`),
 * conditioning and noise: as a host loop and with the latents on the device, counting what each brings
 * back to the host.
 */
export const compareDeviceSampling = (
  settings: SamplerSettings & {
    readonly rng?: RngName
    readonly seeds?: ReadonlyArray<number>
    readonly height?: number
    readonly width?: number
    readonly unet?: UNetBuilder
  },
): Effect.Effect<SamplingComparison, BackendError, Backend> =>
  Effect.gen(function* () {
    const inner = yield* Backend
    const seeds = settings.seeds ?? [3, 4]
    const options: DenoiserGraphOptions = {
      batch: seeds.length,
      height: settings.height ?? 4,
      width: settings.width ?? 4,
      contextLength: 3,
      contextDim: 8,
    }
    const unet = settings.unet ?? stubUNet
    const contextShape = [options.batch, options.contextLength, options.contextDim]
    const context = (phase: number) =>
      hostTensor(
        "f32",
        contextShape,
        Float32Array.from({ length: sizeOf(contextShape) }, (_, i) => Math.sin(0.37 * i + phase)),
      )
    const inputs = { cond: context(0.5), uncond: context(2), cfg_scale: cfgScaleInput(5) }
    const noise = () =>
      new ImageNoise({ rng: settings.rng ?? "philox", seeds, size: 4 * options.height * options.width })
    const run = <A>(traffic: HostTraffic, use: Effect.Effect<A, BackendError, Backend | Scope.Scope>) =>
      Effect.scoped(use).pipe(Effect.provideService(Backend, countHostTraffic(inner, traffic)))
    const timed = <A, E, R>(traffic: HostTraffic, effect: Effect.Effect<A, E, R>) =>
      Effect.suspend(() => {
        const started = performance.now()
        return Effect.tap(effect, () =>
          Effect.sync(() => {
            traffic.ms = performance.now() - started
          }),
        )
      })

    const hostTraffic: HostTraffic = { runs: 0, outputBytes: 0, downloadBytes: 0, ms: 0 }
    const host = yield* run(
      hostTraffic,
      Effect.gen(function* () {
        const backend = yield* Backend
        const program = yield* backend.compile(denoiserGraph(unet, options).graph)
        const denoise = programDenoiser(program, inputs)
        return yield* timed(hostTraffic, sample({ ...settings, denoise, noise: noise() }))
      }),
    )
    const deviceTraffic: HostTraffic = { runs: 0, outputBytes: 0, downloadBytes: 0, ms: 0 }
    const device = yield* run(
      deviceTraffic,
      Effect.gen(function* () {
        const backend = yield* Backend
        const program = yield* backend.compile(samplerGraph(unet, options).graph)
        return yield* timed(deviceTraffic, sampleOnDevice({ ...settings, program, inputs, noise: noise() }))
      }),
    )
    return { host, hostTraffic, device, deviceTraffic }
  })
