import {
  Backend,
  type BackendShape,
  type BackendUnavailable,
  KernelBuffer,
  ProgramInputError,
} from "@danlu/core"
import { Effect, Layer } from "effect"
import { acquireDevice, backendName, type WebGpuOptions } from "../device/acquireDevice.js"
import { type GpuContext, makeGpuContext } from "../device/gpuContext.js"
import {
  bufferBytes,
  createFilledBuffer,
  deviceBytesOf,
  hostTensorOf,
  readBuffer,
} from "../device/storage.js"
import { compileProgram } from "../program/compileProgram.js"
import { describeContext } from "./describe.js"

/** The `Backend` of an acquired device. */
export const makeWebGpuBackend = (gpu: GpuContext): BackendShape => ({
  name: backendName,
  capabilities: gpu.capabilities,
  describe: Effect.succeed(describeContext(gpu)),
  upload: (tensor) =>
    Effect.acquireRelease(
      Effect.sync(
        () =>
          new KernelBuffer(
            backendName,
            tensor.dtype,
            tensor.shape,
            createFilledBuffer(gpu.device, deviceBytesOf(tensor), "uploaded tensor"),
          ),
      ),
      (buffer) => Effect.sync(() => buffer.storage.destroy()),
    ),
  download: (buffer) =>
    buffer instanceof KernelBuffer && buffer.backend === backendName
      ? Effect.promise(async () =>
          hostTensorOf(
            await readBuffer(gpu.device, buffer.storage as GPUBuffer, bufferBytes(buffer)),
            buffer.dtype,
            buffer.shape,
          ),
        )
      : Effect.fail(
          new ProgramInputError({
            name: "download",
            detail: `the buffer belongs to ${buffer.backend}, not ${backendName}`,
          }),
        ),
  compile: (graph) => compileProgram(gpu, graph),
})

/** Acquires an adapter and device for the layer's lifetime and provides them as the `Backend`. */
export const layer = (options: WebGpuOptions = {}): Layer.Layer<Backend, BackendUnavailable> =>
  Layer.effect(
    Backend,
    Effect.map(acquireDevice(options), (acquired) => makeWebGpuBackend(makeGpuContext(acquired))),
  )
