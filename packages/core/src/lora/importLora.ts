import { Effect } from "effect"
import type { CheckpointFormatError, FileAccessError } from "../io/errors.js"
import { toHostTensor } from "../io/storedTensor.js"
import type { TensorFile } from "../io/tensorFile.js"
import { parseLoraKey } from "../models/detect/loraKeys.js"
import type { ModuleInfo } from "../nn/weightScope.js"
import { refFromHost } from "../reference/storage.js"
import { type HostTensor, hostTensor } from "../tensor/hostTensor.js"
import { formatShape, sizeOf } from "../tensor/shape.js"
import { LoraFormatError } from "./errors.js"
import { aliasTable, kohyaName, normalizeModuleName, type UNetLoraNaming } from "./keys.js"
import type { LoraModuleWeights } from "./moduleWeights.js"

/** Which convention a file followed ("locon": 3×3 convs too, as kohya conv_dim or LyCORIS LoCon write them). */
export type LoraFileFormat = "kohya" | "locon" | "diffusers-peft"

export interface ImportedLora {
  readonly format: LoraFileFormat
  readonly modules: ReadonlyArray<LoraModuleWeights>
  readonly metadata: Readonly<Record<string, string>>
}

export interface ImportLoraOptions {
  /** Naming of the kohya names given to imported modules (their export names); default: by model family. */
  readonly unetNaming?: UNetLoraNaming
  /**
   * PEFT files keep `lora_alpha` in their adapter config, not in the file: pass it here (default: the rank,
   * i.e. scale 1, which is what diffusers' own training scripts use).
   */
  readonly peftAlpha?: number
}

interface Parts {
  down?: HostTensor<"f32">
  up?: HostTensor<"f32">
  mid?: HostTensor<"f32">
  alpha?: number
}

const asF32 = (tensor: HostTensor): HostTensor<"f32"> =>
  tensor.dtype === "f32"
    ? (tensor as HostTensor<"f32">)
    : hostTensor("f32", tensor.shape, Float32Array.from(refFromHost(tensor)))

/**
 * Reads a LoRA file in kohya (`lora_unet_…` / `lora_te…_`, `.lora_down`/`.lora_up`/`.alpha`), LyCORIS LoCon
 * (the same names, 3×3 convs, optional `.lora_mid` Tucker core) or diffusers/PEFT (`unet.…lora_A/lora_B`,
 * `text_encoder.…`, old `processor.to_q_lora.down`) form, and pairs every module with the base model's layer
 * it patches (`baseModules` = `scope.modules()` of a build of the base model). Fails with the names that
 * match no layer, so a LoRA for another model family is refused instead of half-applied.
 */
export const importLora = (
  file: TensorFile,
  baseModules: ReadonlyArray<ModuleInfo>,
  options: ImportLoraOptions = {},
): Effect.Effect<ImportedLora, LoraFormatError | CheckpointFormatError | FileAccessError> =>
  Effect.gen(function* () {
    const fail = (detail: string) => Effect.fail(new LoraFormatError({ file: file.name, detail }))
    const aliases = aliasTable(baseModules)
    const parts = new Map<string, Parts>()
    const unknown: Array<string> = []
    let peft = false
    for (const info of file.tensors) {
      const key = parseLoraKey(info.name)
      if (!key) {
        unknown.push(info.name)
        continue
      }
      if (key.role === "loha" || key.role === "lokr" || key.role === "dora") {
        return yield* fail(
          `${info.name} is a LyCORIS ${key.role === "dora" ? "DoRA" : key.role === "loha" ? "LoHa" : "LoKr"} tensor; only LoRA and LoCon files can be imported`,
        )
      }
      if (key.style !== "kohya") peft = true
      const host = toHostTensor(yield* file.read(info.name))
      const module = normalizeModuleName(key.module)
      const entry = parts.get(module) ?? {}
      if (key.role === "alpha") entry.alpha = refFromHost(host)[0]!
      else entry[key.role] = asF32(host)
      parts.set(module, entry)
    }
    if (unknown.length > 0) {
      return yield* fail(
        `${unknown.length} tensors are not LoRA tensors (e.g. ${unknown.slice(0, 3).join(", ")}); is this a LoRA file?`,
      )
    }
    const unmatched = [...parts.keys()].filter((name) => !aliases.has(name))
    if (unmatched.length > 0) {
      return yield* fail(
        `${unmatched.length} of ${parts.size} LoRA modules match no layer of this base model (e.g. ${unmatched.slice(0, 3).join(", ")}); the LoRA was probably made for another model family`,
      )
    }
    const modules: Array<LoraModuleWeights> = []
    let conv = false
    for (const [name, { down, up, mid, alpha }] of parts) {
      const module = aliases.get(name)!
      if (!down || !up) return yield* fail(`LoRA module ${name} lacks its ${down ? "up" : "down"} weight`)
      const rank = down.shape[0]!
      const rows = module.weightRows ? module.weightRows[1] - module.weightRows[0] : module.outFeatures
      const kernel = mid ? sizeOf(mid.shape.slice(2)) : sizeOf(down.shape.slice(2))
      if (
        up.shape[0] !== rows ||
        sizeOf(up.shape) !== rows * rank ||
        sizeOf(down.shape) !== rank * module.inFeatures * (mid ? 1 : kernel) ||
        kernel !== module.kernel[0] * module.kernel[1]
      ) {
        return yield* fail(
          `LoRA module ${name} (down ${formatShape(down.shape)}, up ${formatShape(up.shape)}) does not fit ${module.weightKey} (${module.outFeatures}×${module.inFeatures}, kernel ${module.kernel.join("×")})`,
        )
      }
      if (kernel > 1) conv = true
      modules.push({
        name: kohyaName(module, options.unetNaming),
        module,
        rank,
        alpha: alpha ?? (peft ? (options.peftAlpha ?? rank) : rank),
        down,
        up,
        mid,
      })
    }
    return { format: peft ? "diffusers-peft" : conv ? "locon" : "kohya", modules, metadata: file.metadata }
  })
