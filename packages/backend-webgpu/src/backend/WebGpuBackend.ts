import {
  Backend,
  type BackendShape,
  type BackendUnavailable,
  KernelBuffer,
  makeProgramCache,
  type ProgramCache,
  ProgramInputError,
} from "@danlu/core"
import { Effect, Layer } from "effect"
import { acquireDevice, backendName, type WebGpuOptions } from "../device/acquireDevice.js"
import { type GpuContext, makeGpuContext } from "../device/gpuContext.js"
import { ensureAlive, lostOr } from "../device/lost.js"
import {
  bufferBytes,
  createFilledBuffer,
  deviceBytesOf,
  hostTensorOf,
  readBuffer,
} from "../device/storage.js"
import { compileProgram } from "../program/compileProgram.js"
import { describeContext } from "./describe.js"

/** Programs kept for reuse once nothing holds them, unless `cachedPrograms` says otherwise. */
const defaultCachedPrograms = 4

/**
 * The `Backend` of an acquired device. Programs are cached by graph shape in `cache`; whoever made the
 * cache closes it before the device goes (the layer does).
 */
export const makeWebGpuBackend = (
  gpu: GpuContext,
  cache: ProgramCache = makeProgramCache(defaultCachedPrograms),
): BackendShape => ({
  name: backendName,
  capabilities: gpu.capabilities,
  describe: Effect.succeed(describeContext(gpu)),
  upload: (tensor) =>
    Effect.acquireRelease(
      Effect.andThen(
        ensureAlive(gpu),
        Effect.sync(
          () =>
            new KernelBuffer(
              backendName,
              tensor.dtype,
              tensor.shape,
              createFilledBuffer(gpu.device, deviceBytesOf(tensor), "uploaded tensor"),
            ),
        ),
      ),
      (buffer) => Effect.sync(() => buffer.storage.destroy()),
    ),
  download: (buffer) =>
    buffer instanceof KernelBuffer && buffer.backend === backendName
      ? Effect.andThen(
          ensureAlive(gpu),
          Effect.tryPromise({
            try: async () =>
              hostTensorOf(
                await readBuffer(gpu.device, buffer.storage as GPUBuffer, bufferBytes(buffer)),
                buffer.dtype,
                buffer.shape,
              ),
            catch: lostOr(gpu, "reading a buffer back"),
          }),
        )
      : Effect.fail(
          new ProgramInputError({
            name: "download",
            detail: `the buffer belongs to ${buffer.backend}, not ${backendName}`,
          }),
        ),
  compile: (graph) => cache.compile(graph, compileProgram(gpu, graph)),
})

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
