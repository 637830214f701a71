import {
  Backend,
  type BackendUnavailable,
  type KernelBackend,
  makeKernelBackend,
  makeProgramCache,
  type ProgramCache,
} from "@danlu/core"
import { Effect, Layer } from "effect"
import { acquireDevice, type WebGpuOptions } from "../device/acquireDevice.js"
import { type GpuContext, makeGpuContext } from "../device/gpuContext.js"
import { gpuDeviceOf } from "../device/gpuDevice.js"
import { describeContext } from "./describe.js"

/** Programs kept for reuse once nothing holds them, unless `cachedPrograms` says otherwise. */
const defaultCachedPrograms = 4

/**
 * The `Backend` of an acquired device: core's kernel executor over the GPU device. Programs are cached
 * by graph shape in `cache`; whoever made the cache closes it before the device goes (the layer does).
 */
export const makeWebGpuBackend = (
  gpu: GpuContext,
  cache: ProgramCache = makeProgramCache(defaultCachedPrograms),
): KernelBackend<GPUBuffer> =>
  makeKernelBackend(gpuDeviceOf(gpu), gpu.capabilities, Effect.succeed(describeContext(gpu)), { cache })

/** Acquires an adapter and device for the layer's lifetime and provides them as the `Backend`. */
export const layer = (options: WebGpuOptions = {}): Layer.Layer<Backend, BackendUnavailable> =>
  Layer.effect(
    Backend,
    Effect.gen(function* () {
      const gpu = makeGpuContext(yield* acquireDevice(options))
      const cache = makeProgramCache(options.cachedPrograms ?? defaultCachedPrograms)
      yield* Effect.addFinalizer(() => cache.close)
      return makeWebGpuBackend(gpu, cache)
    }),
  )
