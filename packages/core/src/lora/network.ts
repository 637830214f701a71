import type { AdapterBuild, ModuleAdapter, ModuleInfo, WeightEntry } from "../nn/weightScope.js"
import { cast } from "../ops/cast.js"
import { add, mul } from "../ops/elementwise.js"
import { conv2d, matmul } from "../ops/linalg.js"
import { transpose } from "../ops/movement.js"
import { state } from "../ops/sources.js"
import { uniformF32 } from "../random/philox.js"
import type { DType } from "../tensor/dtype.js"
import { type HostTensor, hostTensor } from "../tensor/hostTensor.js"
import { formatShape, type Shape, sizeOf } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"
import { kohyaName, type UNetLoraNaming } from "./keys.js"
import { type LoraModuleWeights, loraDownName, loraUpName } from "./moduleWeights.js"
import { kohyaTarget, type LoraShape, type LoraTargetOptions } from "./targets.js"

/** One adapted layer of a network. */
export interface LoraModule extends LoraShape {
  readonly name: string
  readonly module: ModuleInfo
  readonly downShape: Shape
  readonly upShape: Shape
}

/**
 * A training-time change to a LoRA's forward (kohya's `network_dropout`, `rank_dropout`, `module_dropout`):
 * given the down projection's output (`[…, rank]`, or `[B, rank, h, w]` for convs), the module and its index
 * in `modules()`, it returns the output to project up and, optionally, a factor on the module's delta.
 */
export type LoraForwardHook = (
  hidden: Tensor,
  lora: LoraModule,
  index: number,
) => { readonly hidden: Tensor; readonly gain?: Tensor | number }

export interface LoraNetworkOptions extends LoraTargetOptions {
  /**
   * Strength at which the forward adds the LoRA (kohya's `multiplier`, A1111's `<lora:name:w>`): a number
   * fixed in the graph, or a scalar graph tensor (`T.input("lora_multiplier", [])`) fed at run time, so
   * one program draws a whole grid of weights.
   */
  readonly multiplier?: number | Tensor
  /**
   * Put before every state name (`style.` gives `style.lora_unet_….lora_down.weight`), so that several
   * networks in one graph keep separate weights. Default none: the names are the file's. The exported
   * file never carries it.
   */
  readonly prefix?: string
  /**
   * UNet module naming of the exported file. Default: sd-scripts' for the model family the model
   * declares ("ldm" for SDXL, "diffusers" for SD1/SD2 and undeclared models).
   */
  readonly unetNaming?: UNetLoraNaming
  /** Model components that get LoRAs (default all: "unet", "te", "te1", "te2"); e.g. ["unet"] for UNet only. */
  readonly components?: ReadonlyArray<string>
  /** dtype of the LoRA weights in the program (default f32 whatever the base weights are). */
  readonly dtype?: DType
  /**
   * dtype the LoRA weights are held in, when it differs from `dtype`: each is a state of this dtype cast to
   * `dtype` where the layer reads it (kohya's `full_fp16` / `full_bf16`: half weights, f32 math).
   */
  readonly storage?: DType
}

const shapesFor = (module: ModuleInfo, rank: number): { down: Shape; up: Shape } =>
  module.kind === "linear"
    ? { down: [rank, module.inFeatures], up: [module.outFeatures, rank] }
    : { down: [rank, module.inFeatures, ...module.kernel], up: [module.outFeatures, rank, 1, 1] }

/**
 * A LoRA network applied in the forward without merging: pass `network.adapter` to `WeightScope.root`, and
 * every target layer computes `base(x) + up(down(x)) · alpha/rank · multiplier`, with `down` and `up` as
 * `state` tensors named by kohya keys (`lora_unet_….lora_down.weight`, after `prefix`). The network learns its
 * modules while the model is built; `modules()` lists them, `tensors()` gives their state tensors for `grad`
 * and `manifest()` their names and shapes. Two networks may not adapt one layer under the same names.
 */
export class LoraNetwork {
  /** Every layer seen, by `layerId`: its LoRA, or undefined when it is not a target. */
  private readonly planned = new Map<string, LoraModule | undefined>()
  private readonly stateTensors = new Map<string, Tensor<"state">>()
  /** What each state is read as: itself, or its cast from `storage` (one per state, shared by every build). */
  private readonly reads = new Map<string, Tensor>()
  readonly multiplier: number | Tensor
  /** The naming given at creation; undefined picks it per module from the model family. */
  readonly unetNaming: UNetLoraNaming | undefined
  readonly dtype: DType
  readonly storage: DType
  readonly prefix: string

  private constructor(
    private readonly plan: (module: ModuleInfo) => LoraShape | undefined,
    options: LoraNetworkOptions,
  ) {
    const multiplier = options.multiplier ?? 1
    if (typeof multiplier !== "number" && multiplier.rank !== 0)
      throw new RangeError(
        `the LoRA multiplier must be a scalar tensor, got ${formatShape(multiplier.shape)}`,
      )
    this.multiplier = multiplier
    this.unetNaming = options.unetNaming
    this.dtype = options.dtype ?? "f32"
    this.storage = options.storage ?? this.dtype
    this.prefix = options.prefix ?? ""
  }

  /** A new network on kohya's targets. */
  static create(options: LoraNetworkOptions): LoraNetwork {
    const components = options.components
    return new LoraNetwork(
      (module) =>
        components && !components.includes(module.component) ? undefined : kohyaTarget(module, options),
      options,
    )
  }

  /** A network with exactly the modules (and ranks, alphas) of existing weights, e.g. an imported file. */
  static fromWeights(
    weights: ReadonlyArray<LoraModuleWeights>,
    options: Omit<LoraNetworkOptions, keyof LoraTargetOptions> = {},
  ): LoraNetwork {
    const byLayer = new Map(weights.map((w) => [layerId(w.module), { rank: w.rank, alpha: w.alpha }]))
    for (const w of weights) {
      if (w.mid)
        throw new RangeError(`${w.name} has a Tucker core (lora_mid); merge it into the base weights instead`)
    }
    return new LoraNetwork((module) => byLayer.get(layerId(module)), { rank: 0, alpha: 0, ...options })
  }

  readonly adapter: ModuleAdapter = (module, x, y, build) => this.forward(module, x, y, build, undefined)

  /** The adapter with `hook` in every LoRA's forward: for training graphs (dropout), never for files or validation. */
  adapterWith(hook: LoraForwardHook): ModuleAdapter {
    return (module, x, y, build) => this.forward(module, x, y, build, hook)
  }

  private forward(
    module: ModuleInfo,
    x: Tensor,
    y: Tensor,
    build: AdapterBuild,
    hook: LoraForwardHook | undefined,
  ): Tensor {
    const lora = this.moduleFor(module)
    if (!lora) return y
    const downName = this.stateName(loraDownName(lora.name))
    const upName = this.stateName(loraUpName(lora.name))
    build.claim(this, downName)
    build.claim(this, upName)
    const down = this.tensor(downName, lora.downShape)
    const up = this.tensor(upName, lora.upShape)
    const input = cast(x, this.dtype)
    let hidden: Tensor =
      module.kind === "linear"
        ? matmul(input, transpose(down))
        : conv2d(input, down, { stride: module.stride, padding: module.padding })
    let gain: Tensor | number = 1
    if (hook) {
      const changed = hook(hidden, lora, this.modules().indexOf(lora))
      hidden = changed.hidden
      gain = changed.gain ?? 1
    }
    const delta = module.kind === "linear" ? matmul(hidden, transpose(up)) : conv2d(hidden, up)
    const scale = lora.alpha / lora.rank
    const scaled =
      typeof this.multiplier === "number"
        ? mul(delta, scale * this.multiplier)
        : mul(mul(delta, scale), cast(this.multiplier, this.dtype))
    return add(y, cast(gain === 1 ? scaled : mul(scaled, gain), y.dtype))
  }

  /** The adapted layers, in the order the model built them. */
  modules(): ReadonlyArray<LoraModule> {
    return [...this.planned.values()].filter((m): m is LoraModule => m !== undefined)
  }

  /** The `state` tensors of the LoRA weights, by state name: what `grad` and `adamW` take. */
  tensors(): ReadonlyMap<string, Tensor<"state">> {
    return this.stateTensors
  }

  /** Every state of the network (prefixed names, shapes, dtype), as `WeightScope.manifest()` lists the base's. */
  manifest(): ReadonlyMap<string, WeightEntry> {
    return new Map(
      [...this.stateTensors].map(([key, t]) => [key, { key, shape: [...t.shape], dtype: t.dtype }]),
    )
  }

  /**
   * Starting weights as kohya makes them: `down` kaiming-uniform (a = √5, so U(±1/√fan_in)) from the Philox
   * stream of `seed` (module i, in name order, draws at offset i), `up` zero — a new network changes nothing.
   */
  initialWeights(seed: number | bigint): Record<string, HostTensor<"f32">> {
    const out: Record<string, HostTensor<"f32">> = {}
    const ordered = [...this.modules()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    ordered.forEach((lora, index) => {
      const fanIn = sizeOf(lora.downShape.slice(1))
      const bound = 1 / Math.sqrt(fanIn)
      const u = uniformF32(sizeOf(lora.downShape), seed, index)
      out[this.stateName(loraDownName(lora.name))] = hostTensor(
        "f32",
        lora.downShape,
        u.map((v) => (2 * v - 1) * bound),
      )
      out[this.stateName(loraUpName(lora.name))] = hostTensor(
        "f32",
        lora.upShape,
        new Float32Array(sizeOf(lora.upShape)),
      )
    })
    return out
  }

  /** Pairs the network's modules with their current weights (by state name, prefix included) for export or merging. */
  moduleWeights(weights: Readonly<Record<string, HostTensor<"f32">>>): Array<LoraModuleWeights> {
    return this.modules().map((lora) => {
      const down = weights[this.stateName(loraDownName(lora.name))]
      const up = weights[this.stateName(loraUpName(lora.name))]
      if (!down || !up) throw new RangeError(`no weights given for LoRA module ${lora.name}`)
      return { name: lora.name, module: lora.module, rank: lora.rank, alpha: lora.alpha, down, up }
    })
  }

  private moduleFor(module: ModuleInfo): LoraModule | undefined {
    const id = layerId(module)
    if (this.planned.has(id)) return this.planned.get(id)
    const shape = this.plan(module)
    let lora: LoraModule | undefined
    if (shape) {
      const { down, up } = shapesFor(module, shape.rank)
      lora = { ...shape, name: kohyaName(module, this.unetNaming), module, downShape: down, upShape: up }
    }
    this.planned.set(id, lora)
    return lora
  }

  private stateName(name: string): string {
    return this.prefix + name
  }

  private tensor(name: string, shape: Shape): Tensor {
    const seen = this.reads.get(name)
    if (seen) return seen
    const tensor = state(name, shape, this.storage)
    const read = cast(tensor, this.dtype)
    this.stateTensors.set(name, tensor)
    this.reads.set(name, read)
    return read
  }
}

/** Identity of a layer across builds: its weight key and, for fused projections, its rows. */
export const layerId = (module: ModuleInfo): string =>
  `${module.weightKey}#${module.weightRows?.join(":") ?? ""}`
