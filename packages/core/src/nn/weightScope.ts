import type { BaseFamily } from "../models/detect/baseVersion.js"
import { cast } from "../ops/cast.js"
import { shapeError } from "../ops/check.js"
import { state } from "../ops/sources.js"
import { type DType, isFloat } from "../tensor/dtype.js"
import { formatShape, type Shape, sameShape } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"

/** A weight a model asked for: its full checkpoint key, shape and the dtype the program holds it in. */
export interface WeightEntry {
  readonly key: string
  readonly shape: Shape
  readonly dtype: DType
}

/**
 * A linear or convolution layer as the model built it. LoRA networks find their targets in this list and
 * name them; merges write into `weightKey` (rows `weightRows` only, for q/k/v fused into one projection).
 */
export interface ModuleInfo {
  readonly kind: "linear" | "conv2d"
  /** Which model part it belongs to: "unet", "te" (SD1/SD2 text encoder), "te1"/"te2" (SDXL), "vae". */
  readonly component: string
  /** Checkpoint path below the component root, e.g. `input_blocks.1.1.proj_in` (LDM naming). */
  readonly path: string
  /** The same module in diffusers/transformers naming, e.g. `down_blocks.0.attentions.0.proj_in`. */
  readonly diffusersPath: string
  readonly weightKey: string
  readonly weightRows: readonly [number, number] | undefined
  readonly inFeatures: number
  readonly outFeatures: number
  readonly kernel: readonly [number, number]
  readonly stride: readonly [number, number]
  readonly padding: readonly [number, number]
  /** Enclosing module classes, outermost first, in diffusers/transformers class names (kohya targets by these). */
  readonly within: ReadonlyArray<string>
  /** The model family its builder declared (`WeightScope.family`); LoRA files name modules by family. */
  readonly family?: BaseFamily | undefined
}

/** What a build offers its adapters. */
export interface AdapterBuild {
  /**
   * Claims the state name `name` for `owner` in this build; throws when another owner claimed it, so
   * two adapters (two LoRA networks) never silently share a weight.
   */
  readonly claim: (owner: object, name: string) => void
}

/** Wraps a layer's output: given the layer, its input and its base output, returns the output to use. */
export type ModuleAdapter = (module: ModuleInfo, x: Tensor, y: Tensor, build: AdapterBuild) => Tensor

/** What every scope of one model build shares: the weight manifest, the layer list and the adapters. */
class ScopeRegistry implements AdapterBuild {
  readonly weights = new Map<string, WeightEntry>()
  readonly tensors = new Map<string, Tensor>()
  readonly modules = new Map<string, ModuleInfo>()
  /** What `weight` returned for each key: the state itself, or its cast from `storage`. */
  readonly reads = new Map<string, Tensor>()
  private readonly claims = new Map<string, object>()
  constructor(
    readonly dtype: DType,
    readonly storage: DType | undefined,
    readonly adapters: ReadonlyArray<ModuleAdapter>,
  ) {}

  readonly claim = (owner: object, name: string): void => {
    const holder = this.claims.get(name)
    if (holder === undefined) this.claims.set(name, owner)
    else if (holder !== owner)
      throw new RangeError(`two adapters claim the state "${name}": give each LoRA network its own prefix`)
  }
}

export interface WeightScopeOptions {
  /** dtype of the weights as the program holds them (default f32). */
  readonly dtype?: DType
  /**
   * dtype the float weights are held in, when it differs from `dtype`: each weight is a state of this dtype
   * cast to `dtype` where the model reads it — kohya's `weight_dtype` under mixed precision (f16/bf16
   * weights, f32 math).
   */
  readonly storage?: DType
  /** Layer wrappers, applied in order (LoRA networks). */
  readonly adapters?: ReadonlyArray<ModuleAdapter>
}

type Segment = string | number

/** Where a scope stands in a build. */
interface Place {
  readonly segments: ReadonlyArray<string>
  readonly componentName: string
  readonly componentStart: number
  readonly aliasSegments: ReadonlyArray<string>
  readonly parentAlias: ReadonlyArray<string>
  readonly classes: ReadonlyArray<string>
  readonly family: BaseFamily | undefined
  readonly adapted: boolean
}

const split = (path: string): Array<string> => (path === "" ? [] : path.split("."))

/**
 * Where a model finds its weights. `scope.at("input_blocks", 1, 1).weight("norm.weight", [C])` is the `state`
 * tensor named by the full checkpoint key `…input_blocks.1.1.norm.weight`, so model code mirrors checkpoint
 * keys and a key leads to its line. Every scope of a build shares one registry that records each weight
 * asked for (the manifest a loader checks a checkpoint against) and each linear/conv layer (what LoRA targets).
 */
export class WeightScope {
  private constructor(
    private readonly registry: ScopeRegistry,
    private readonly place: Place,
  ) {}

  private get segments(): ReadonlyArray<string> {
    return this.place.segments
  }

  private with(changes: Partial<Place>): WeightScope {
    return new WeightScope(this.registry, { ...this.place, ...changes })
  }

  /** A fresh build: an empty manifest, weights of `dtype`, layers wrapped by `adapters`. */
  static root(options: WeightScopeOptions = {}): WeightScope {
    return new WeightScope(
      new ScopeRegistry(options.dtype ?? "f32", options.storage, options.adapters ?? []),
      {
        segments: [],
        componentName: "",
        componentStart: 0,
        aliasSegments: [],
        parentAlias: [],
        classes: [],
        family: undefined,
        adapted: true,
      },
    )
  }

  /** A child scope; dotted strings and numbers are both path segments. */
  at(...segments: ReadonlyArray<Segment>): WeightScope {
    const added = segments.flatMap((s) => split(String(s)))
    return this.with({
      segments: [...this.segments, ...added],
      aliasSegments: [...this.place.aliasSegments, ...added],
      parentAlias: this.place.aliasSegments,
    })
  }

  /** Renames the last `at` step in diffusers naming (`at("in_layers", 2).alias("conv1")`). */
  alias(diffusersName: string): WeightScope {
    return this.with({ aliasSegments: [...this.place.parentAlias, ...split(diffusersName)] })
  }

  /**
   * The same weights, one more step in diffusers naming only: the q, k and v rows of OpenCLIP's fused
   * `attn.in_proj_weight` are `self_attn.q_proj`, `k_proj` and `v_proj` in transformers.
   */
  part(diffusersName: string): WeightScope {
    return this.with({
      aliasSegments: [...this.place.aliasSegments, ...split(diffusersName)],
      parentAlias: this.place.aliasSegments,
    })
  }

  /** Marks this scope as the root of a model component ("unet", "te", "te1", "te2", "vae"). */
  component(name: string): WeightScope {
    return this.with({
      componentName: name,
      componentStart: this.segments.length,
      aliasSegments: [],
      parentAlias: [],
      classes: [],
    })
  }

  /** Marks this scope as an instance of a module class (diffusers/transformers names: "Transformer2DModel"). */
  within(className: string): WeightScope {
    return this.with({ classes: [...this.place.classes, className] })
  }

  /** Declares the model family of everything built below (recorded in each layer's `ModuleInfo`). */
  family(family: BaseFamily): WeightScope {
    return this.with({ family })
  }

  /**
   * Layers below are recorded but not passed through the adapters: for a layer whose output the model
   * never uses (SD2's last text-encoder layer), which trainers leave out.
   */
  unadapted(): WeightScope {
    return this.with({ adapted: false })
  }

  /** The full checkpoint key of this scope. */
  get key(): string {
    return this.segments.join(".")
  }

  get dtype(): DType {
    return this.registry.dtype
  }

  /** The full key of a weight below this scope. */
  keyOf(name: string): string {
    return [...this.segments, ...split(name)].join(".")
  }

  /**
   * The weight `name` below this scope in `dtype`: the `state` tensor named by its full key (cast from the
   * scope's `storage` dtype if it has one); recorded in the manifest.
   */
  weight(name: string, shape: Shape, dtype: DType = this.registry.dtype): Tensor {
    const key = this.keyOf(name)
    const storage = this.registry.storage
    const held = storage !== undefined && isFloat(dtype) && isFloat(storage) ? storage : dtype
    const seen = this.registry.weights.get(key)
    const read = this.registry.reads.get(key)
    if (seen && read) {
      if (!sameShape(seen.shape, shape) || read.dtype !== dtype) {
        shapeError(
          "weight",
          `"${key}" was asked for as ${formatShape(seen.shape)} ${read.dtype} and now as ${formatShape(shape)} ${dtype}`,
          seen.shape,
          shape,
        )
      }
      return read
    }
    const tensor = state(key, shape, held)
    const value = held === dtype ? tensor : cast(tensor, dtype)
    this.registry.weights.set(key, { key, shape: [...shape], dtype: held })
    this.registry.tensors.set(key, tensor)
    this.registry.reads.set(key, value)
    return value
  }

  /** Records a layer built in this scope and runs the adapters over its output. */
  adapt(
    layer: Omit<
      ModuleInfo,
      "component" | "path" | "diffusersPath" | "within" | "weightKey" | "weightRows" | "family"
    > & {
      readonly weightName?: string
      readonly weightRows?: readonly [number, number]
    },
    x: Tensor,
    y: Tensor,
  ): Tensor {
    const { weightName, weightRows, ...geometry } = layer
    const module: ModuleInfo = {
      ...geometry,
      component: this.place.componentName,
      path: this.segments.slice(this.place.componentStart).join("."),
      diffusersPath: this.place.aliasSegments.join("."),
      weightKey: this.keyOf(weightName ?? "weight"),
      weightRows,
      within: this.place.classes,
      family: this.place.family,
    }
    const id = `${module.weightKey}#${weightRows?.join(":") ?? ""}`
    if (!this.registry.modules.has(id)) this.registry.modules.set(id, module)
    if (!this.place.adapted) return y
    return this.registry.adapters.reduce((out, adapter) => adapter(module, x, out, this.registry), y)
  }

  /** Every weight asked for so far in this build, by full key. */
  manifest(): ReadonlyMap<string, WeightEntry> {
    return this.registry.weights
  }

  /**
   * The `state` tensor of every weight asked for, by full key (what `grad` takes to differentiate weights);
   * with a `storage` dtype, the state as held, before its cast.
   */
  tensors(): ReadonlyMap<string, Tensor> {
    return this.registry.tensors
  }

  /** Every linear/conv layer built so far in this build, in build order (each once). */
  modules(): ReadonlyArray<ModuleInfo> {
    return [...this.registry.modules.values()]
  }
}
