import {
  type HostTensor,
  hostTensor,
  type LoraModuleWeights,
  LoraNetwork,
  loraDownName,
  loraUpName,
  type ModuleAdapter,
  type ModuleInfo,
  type Shape,
  T,
  type UNetLoraNaming,
} from "@danlu/core"

/** One LoRA file's modules, ready to be added to a model's layers at a multiplier fed at run time. */
export interface LoraSlotWeights {
  /** Module structure (names and ranks): files with the same layout share compiled programs. */
  readonly layout: string
  readonly modules: ReadonlyArray<LoraModuleWeights>
  /** State values by slot-relative name: `down`, and `up` already scaled by alpha / rank. */
  readonly states: Readonly<Record<string, HostTensor>>
}

const shapesOf = (module: ModuleInfo, rank: number): { down: Shape; up: Shape } =>
  module.kind === "linear"
    ? { down: [rank, module.inFeatures], up: [module.outFeatures, rank] }
    : { down: [rank, module.inFeatures, ...module.kernel], up: [module.outFeatures, rank, 1, 1] }

/**
 * An imported LoRA as slot weights. alpha / rank is folded into `up` on the host, so a file's alpha is
 * data, not graph structure: every epoch file of a run fits the same program.
 */
export const loraSlotWeights = (modules: ReadonlyArray<LoraModuleWeights>): LoraSlotWeights => {
  const states: Record<string, HostTensor> = {}
  for (const m of modules) {
    if (m.mid) throw new RangeError(`${m.name} has a Tucker core (lora_mid); danlu cannot apply it unmerged`)
    const { down, up } = shapesOf(m.module, m.rank)
    const scale = m.alpha / m.rank
    states[loraDownName(m.name)] = hostTensor("f32", down, m.down.data as Float32Array)
    states[loraUpName(m.name)] = hostTensor(
      "f32",
      up,
      Float32Array.from(m.up.data as Float32Array, (v) => v * scale),
    )
  }
  const layout = modules
    .map((m) => `${m.name}:${m.rank}`)
    .sort()
    .join(",")
  return { layout, modules, states }
}

/** The state-name prefix of slot `slot`: several LoRAs in one graph never share a name. */
export const slotPrefix = (slot: number): string => `lora${slot}.`

/** The scalar input carrying slot `slot`'s multiplier on the text encoder ("te") or the UNet ("unet"). */
export const multiplierName = (slot: number, part: "te" | "unet"): string => `lora${slot}_${part}_multiplier`

const partOf = (component: string): "te" | "unet" => (component === "unet" ? "unet" : "te")

/**
 * The adapters for one graph build: per slot, a `LoraNetwork` over its text-encoder modules and one over its
 * UNet modules, each with its multiplier as a scalar input and its states under the slot's prefix (the
 * alpha is already in `up`, so the networks scale by 1). Weights and multipliers arrive at run time, so one
 * program serves every file of a layout at every weight.
 */
export const loraSlotAdapters = (
  slots: ReadonlyArray<LoraSlotWeights>,
  unetNaming: UNetLoraNaming,
): Array<ModuleAdapter> =>
  slots.flatMap((slot, i) =>
    (["te", "unet"] as const).flatMap((part) => {
      const modules = slot.modules
        .filter((m) => partOf(m.module.component) === part)
        .map((m) => ({ ...m, alpha: m.rank }))
      if (modules.length === 0) return []
      const network = LoraNetwork.fromWeights(modules, {
        prefix: slotPrefix(i),
        multiplier: T.input(multiplierName(i, part), []),
        unetNaming,
      })
      return [network.adapter]
    }),
  )
