import {
  type HostTensor,
  hostTensor,
  type LoraModuleWeights,
  layerId,
  loraDownName,
  loraUpName,
  type ModuleAdapter,
  type ModuleInfo,
  type Shape,
  T,
  type Tensor,
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
 * A model-build adapter adding every slot's LoRA to its layers: `y + up(down(x)) · m`, with `down` and `up`
 * as states named `lora<i>.<kohya key>` and m the slot's multiplier input for the layer's part. Weights and
 * multipliers both arrive at run time, so one program serves every file of a layout at every weight.
 */
export const loraSlotsAdapter = (slots: ReadonlyArray<LoraSlotWeights>): ModuleAdapter => {
  const byLayer = slots.map((slot) => new Map(slot.modules.map((m) => [layerId(m.module), m])))
  // A model may be built twice in one graph (cond and uncond of different lengths): one node per name.
  const nodes = new Map<string, Tensor>()
  const node = (name: string, make: () => Tensor): Tensor => {
    const seen = nodes.get(name)
    if (seen) return seen
    const made = make()
    nodes.set(name, made)
    return made
  }
  const multiplier = (slot: number, part: "te" | "unet"): Tensor =>
    node(multiplierName(slot, part), () => T.input(multiplierName(slot, part), []))
  return (module, x, y) => {
    let out = y
    byLayer.forEach((layers, slot) => {
      const lora = layers.get(layerId(module))
      if (!lora) return
      const { down: downShape, up: upShape } = shapesOf(module, lora.rank)
      const downName = `${slotPrefix(slot)}${loraDownName(lora.name)}`
      const upName = `${slotPrefix(slot)}${loraUpName(lora.name)}`
      const down = node(downName, () => T.state(downName, downShape))
      const up = node(upName, () => T.state(upName, upShape))
      const input = T.cast(x, "f32")
      const delta =
        module.kind === "linear"
          ? T.matmul(T.matmul(input, T.transpose(down)), T.transpose(up))
          : T.conv2d(T.conv2d(input, down, { stride: module.stride, padding: module.padding }), up)
      out = T.add(out, T.cast(T.mul(delta, multiplier(slot, partOf(module.component))), y.dtype))
    })
    return out
  }
}
