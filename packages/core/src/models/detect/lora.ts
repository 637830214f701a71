import { Effect } from "effect"
import { toHostTensor } from "../../io/storedTensor.js"
import type { TensorFile } from "../../io/tensorFile.js"
import { fromBF16Bits, fromF16Bits } from "../../tensor/halfFloat.js"
import type { Shape } from "../../tensor/shape.js"
import {
  type BaseFamily,
  familyFromContextDim,
  familyFromKohyaVersion,
  familyFromModelspec,
  familyLabel,
  type Prediction,
} from "./baseVersion.js"
import type { ComponentName } from "./components.js"
import { type LoraKeyStyle, loraComponentOf, parseLoraKey } from "./loraKeys.js"
import { type TensorTally, tally } from "./parameterCount.js"

/** The adapter algorithm: plain LoRA, LoCon (LoRA on 3x3 convolutions too), LyCORIS LoHa or LoKr. */
export type LoraAlgorithm = "lora" | "locon" | "loha" | "lokr"

export interface LoraInfo {
  readonly keyStyle: LoraKeyStyle
  readonly algorithm: LoraAlgorithm
  /** `ss_network_module` (e.g. `networks.lora`, `lycoris.kohya`) when the file records it. */
  readonly networkModule: string | undefined
  readonly modules: number
  readonly modulesByComponent: Readonly<Partial<Record<ComponentName, number>>>
  /** Distinct ranks of Linear and 1x1 modules, and of convolution (kxk, k>1) modules. */
  readonly linearRanks: ReadonlyArray<number>
  readonly convRanks: ReadonlyArray<number>
  /** Distinct alpha values; empty when the file stores none (then alpha = rank, scale 1). */
  readonly alphas: ReadonlyArray<number>
  readonly convModules: number
  readonly family: BaseFamily | undefined
  readonly familyBasis: string
  readonly prediction: Prediction
  readonly total: TensorTally
  readonly metadata: Readonly<Record<string, string>>
  readonly notes: ReadonlyArray<string>
}

/** True when a file's keys look like a LoRA (any module with down/up, LoHa or LoKr tensors). */
export const looksLikeLora = (file: TensorFile): boolean =>
  file.tensors.some((tensor) => {
    const key = parseLoraKey(tensor.name)
    return key !== undefined && key.role !== "alpha" && key.role !== "dora"
  })

interface ModuleParts {
  down?: Shape
  up?: Shape
  alphaName?: string
  loha?: Shape
  lokr?: boolean
}

const sorted = (values: Iterable<number>): Array<number> => [...new Set(values)].sort((a, b) => a - b)

const scalarOf = (file: TensorFile, name: string) =>
  Effect.map(Effect.option(file.read(name)), (stored) => {
    if (stored._tag === "None" || stored.value.bytes.length === 0) return undefined
    const host = toHostTensor(stored.value)
    const first = host.data[0]!
    return host.dtype === "f16"
      ? fromF16Bits(first)
      : host.dtype === "bf16"
        ? fromBF16Bits(first)
        : Number(first)
  })

/** The family implied by module shapes: cross-attention key width, text encoder width, conv vs linear proj_in. */
const familyFromShapes = (
  modules: ReadonlyMap<string, ModuleParts>,
): { family: BaseFamily; basis: string } | undefined => {
  for (const module of modules.keys()) {
    if (loraComponentOf(module) === "text_encoder_2")
      return { family: "sdxl", basis: "it has modules for a second text encoder" }
  }
  for (const [module, parts] of modules) {
    if (/attn2[._]to_k$/.test(module) && parts.down?.length === 2) {
      const family = familyFromContextDim(parts.down[1]!)
      if (family !== undefined)
        return { family, basis: `cross-attention keys take ${parts.down[1]}-wide text features` }
    }
  }
  for (const [module, parts] of modules) {
    if (
      loraComponentOf(module) === "text_encoder" &&
      /(?:q_proj|fc1)$/.test(module) &&
      parts.down !== undefined
    ) {
      const width = parts.down[1]
      if (width === 768) return { family: "sd1", basis: "its text encoder modules are 768 wide (CLIP ViT-L)" }
      if (width === 1024)
        return { family: "sd2", basis: "its text encoder modules are 1024 wide (OpenCLIP ViT-H)" }
    }
  }
  for (const [module, parts] of modules) {
    if (/proj_in$/.test(module) && parts.down?.length === 4)
      return { family: "sd1", basis: "proj_in is a 1x1 convolution (SD 1.x)" }
  }
  return undefined
}

/**
 * Describes a LoRA file: key style (kohya, diffusers/PEFT), algorithm (LoRA, LoCon, LoHa, LoKr), module counts
 * per component, ranks, alphas, and the base family from the weights' shapes and from the `ss_base_model_version`
 * / `modelspec.architecture` metadata (shapes win when they disagree, and a note says so).
 */
export const inspectLora = (file: TensorFile): Effect.Effect<LoraInfo> =>
  Effect.gen(function* () {
    const modules = new Map<string, ModuleParts>()
    const styles = new Set<LoraKeyStyle>()
    let hasMid = false
    for (const tensor of file.tensors) {
      const key = parseLoraKey(tensor.name)
      if (key === undefined) continue
      const parts = modules.get(key.module) ?? {}
      modules.set(key.module, parts)
      if (key.role !== "alpha") styles.add(key.style)
      if (key.role === "down") parts.down = tensor.shape
      else if (key.role === "up") parts.up = tensor.shape
      else if (key.role === "alpha") parts.alphaName = tensor.name
      else if (key.role === "loha" && tensor.name.endsWith("hada_w1_b")) parts.loha = tensor.shape
      else if (key.role === "lokr") parts.lokr = true
      else if (key.role === "mid") hasMid = true
    }
    const linearRanks: Array<number> = []
    const convRanks: Array<number> = []
    const alphas: Array<number> = []
    const byComponent: Partial<Record<ComponentName, number>> = {}
    let convModules = 0
    let loha = false
    let lokr = false
    for (const [module, parts] of modules) {
      if (parts.down === undefined && parts.loha === undefined && parts.lokr !== true) continue
      const component = loraComponentOf(module)
      byComponent[component] = (byComponent[component] ?? 0) + 1
      if (parts.loha !== undefined) {
        loha = true
        linearRanks.push(parts.loha[0]!)
      } else if (parts.lokr === true) {
        lokr = true
      } else if (parts.down !== undefined) {
        const isConv = parts.down.length === 4 && (parts.down[2]! > 1 || parts.down[3]! > 1)
        if (isConv) convModules++
        ;(isConv ? convRanks : linearRanks).push(parts.down[0]!)
      }
      if (parts.alphaName !== undefined) {
        const alpha = yield* scalarOf(file, parts.alphaName)
        if (alpha !== undefined) alphas.push(alpha)
      }
    }
    const notes: Array<string> = []
    if (hasMid) notes.push("some modules use a CP-decomposed middle (lora_mid) factor")
    const keyStyle: LoraKeyStyle = styles.has("kohya")
      ? "kohya"
      : styles.has("diffusers-legacy")
        ? "diffusers-legacy"
        : "diffusers-peft"
    if (styles.size > 1) notes.push(`mixed key styles: ${[...styles].join(", ")}`)
    const algorithm: LoraAlgorithm = lokr ? "lokr" : loha ? "loha" : convModules > 0 ? "locon" : "lora"

    const kohyaVersion = file.metadata.ss_base_model_version
    const fromKohya = kohyaVersion === undefined ? undefined : familyFromKohyaVersion(kohyaVersion)
    const architecture = file.metadata["modelspec.architecture"]
    const fromSpec = architecture === undefined ? undefined : familyFromModelspec(architecture)
    const fromV2Flag =
      file.metadata.ss_v2 === "True" ? ({ family: "sd2", prediction: "unknown" } as const) : undefined
    const declared = fromKohya ?? fromSpec ?? fromV2Flag
    const declaredBasis = fromKohya
      ? `ss_base_model_version = ${kohyaVersion}`
      : fromSpec
        ? `modelspec.architecture = ${architecture}`
        : "ss_v2 = True"
    const fromShapes = familyFromShapes(modules)
    let family: BaseFamily | undefined
    let familyBasis: string
    if (fromShapes !== undefined) {
      family = fromShapes.family
      familyBasis = fromShapes.basis
      if (declared !== undefined && declared.family !== family) {
        notes.push(
          `the metadata (${declaredBasis}) says ${familyLabel[declared.family]} but the shapes say ${familyLabel[family]}`,
        )
      }
    } else if (declared !== undefined) {
      family = declared.family
      familyBasis = declaredBasis
    } else {
      family = undefined
      familyBasis = "neither the shapes nor the metadata identify the base model"
    }
    const prediction: Prediction =
      declared !== undefined && declared.family === family
        ? declared.prediction
        : family === "sd1"
          ? "epsilon"
          : "unknown"
    return {
      keyStyle,
      algorithm,
      networkModule: file.metadata.ss_network_module,
      modules: Object.values(byComponent).reduce((sum, count) => sum + count, 0),
      modulesByComponent: byComponent,
      linearRanks: sorted(linearRanks),
      convRanks: sorted(convRanks),
      alphas: sorted(alphas),
      convModules,
      family,
      familyBasis,
      prediction,
      total: tally(file.tensors),
      metadata: file.metadata,
      notes,
    } satisfies LoraInfo
  })
