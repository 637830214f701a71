import { BackendUnavailable } from "@danlu/core"
import { Effect, type Scope } from "effect"

export const backendName = "webgpu"

export interface WebGpuOptions {
  /** Which adapter to prefer where a machine has several (default "high-performance"). */
  readonly powerPreference?: "low-power" | "high-performance"
  /** Dawn toggles and options passed to `create`, e.g. `["backend=vulkan"]`. */
  readonly dawnOptions?: ReadonlyArray<string>
  /** Compiled programs kept for reuse once nothing holds them (default 4), one per graph shape. */
  readonly cachedPrograms?: number
}

/** The features danlu asks for when the adapter offers them. */
export const wantedFeatures: ReadonlyArray<GPUFeatureName> = ["shader-f16", "subgroups"]

/** Limits raised to the adapter's maximum: tensors are storage buffers, kernels bind up to six of them. */
const raisedLimits = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
] as const

/** An acquired device with what danlu needs to know about it. */
export interface AcquiredDevice {
  readonly device: GPUDevice
  readonly adapterInfo: GPUAdapterInfo
  readonly features: ReadonlySet<string>
  readonly isFallbackAdapter: boolean
  /** Set when the device is lost; every later use fails with this reason. */
  lostReason: string | undefined
}

const unavailable = (reason: string) => new BackendUnavailable({ backend: backendName, reason })

/** Dawn's messages span lines (e.g. the list of adapters); a user error is one line. */
const describeCause = (cause: unknown): string =>
  (cause instanceof Error ? cause.message : String(cause))
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join("; ")

const loadDawn = Effect.tryPromise({
  try: () => import("webgpu"),
  catch: (cause) => unavailable(`the webgpu package (dawn.node) did not load: ${describeCause(cause)}`),
})

/**
 * Requests an adapter and a device with the features and limits danlu uses, and destroys the device
 * when the scope closes. No adapter is `BackendUnavailable` with a hint at what is missing.
 */
export const acquireDevice = (
  options: WebGpuOptions = {},
): Effect.Effect<AcquiredDevice, BackendUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const dawn = yield* loadDawn
    const gpu = yield* Effect.try({
      try: () => dawn.create([...(options.dawnOptions ?? [])]),
      catch: (cause) => unavailable(`Dawn could not start: ${describeCause(cause)}`),
    })
    const adapter = yield* Effect.tryPromise({
      try: () => gpu.requestAdapter({ powerPreference: options.powerPreference ?? "high-performance" }),
      catch: (cause) => unavailable(`requestAdapter failed: ${describeCause(cause)}`),
    })
    if (!adapter) {
      return yield* unavailable(
        "no WebGPU adapter found (no GPU driver with Vulkan/Metal/D3D12; on Linux without a GPU install Mesa's lavapipe: mesa-vulkan-drivers ≥ 24)",
      )
    }
    const requiredFeatures = wantedFeatures.filter((f) => adapter.features.has(f))
    const requiredLimits = Object.fromEntries(raisedLimits.map((name) => [name, adapter.limits[name]]))
    const device = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => adapter.requestDevice({ requiredFeatures, requiredLimits, label: "danlu" }),
        catch: (cause) => unavailable(`requestDevice failed: ${describeCause(cause)}`),
      }),
      (device) => Effect.sync(() => device.destroy()),
    )
    const acquired: AcquiredDevice = {
      device,
      adapterInfo: adapter.info,
      features: new Set(device.features),
      isFallbackAdapter: adapter.info.isFallbackAdapter ?? false,
      lostReason: undefined,
    }
    device.lost.then((info) => {
      acquired.lostReason =
        info.reason === "destroyed" ? "the device was released" : info.message || info.reason
    })
    return acquired
  })
