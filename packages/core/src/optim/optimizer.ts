import type { DType } from "../tensor/dtype.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import type { Shape } from "../tensor/shape.js"
import type { Tensor } from "../tensor/tensor.js"
import type { Trainable } from "./adamW.js"

/** Parameters trained at one learning rate (kohya: the UNet's and the text encoder's groups). */
export interface ParamGroup {
  readonly trainables: ReadonlyArray<Trainable>
  /** The group's learning rate, an f32 scalar graph input (the schedule changes it without recompiling). */
  readonly lr: Tensor
}

/**
 * What the `lr` input means to an optimizer:
 * - "step-size": the step size itself (AdamW, Lion, SGD, …; kohya's usual 1e-4).
 * - "multiplier": a factor on a step size the optimizer adapts (Prodigy, D-Adaptation; kohya warns when it is ≤ 0.1 and
 *   recommends 1.0). All groups must share one lr (or have 0): the references raise otherwise, the graph takes the largest.
 * - "ignored": the optimizer computes its own step size (Adafactor with relative_step; kohya drops the lr and its schedule).
 */
export type LrRole = "step-size" | "multiplier" | "ignored"

/** Shape and held type of a trainable parameter, what `initialState` needs to lay out the optimizer's states. */
export interface ParamSpec {
  readonly name: string
  readonly shape: Shape
  readonly dtype: DType
}

/** A trainable parameter's `ParamSpec`, from its state tensor. */
export const paramSpec = (param: Tensor<"state">): ParamSpec => ({
  name: param.attrs.name,
  shape: param.shape,
  dtype: param.dtype,
})

/** An optimizer as graph updates: one compiled step program serves every step of a run. */
export interface Optimizer {
  /** kohya's `optimizer_type` spelling: "AdamW", "AdamW8bit", "Lion", "SGDNesterov", "SGD", "Prodigy", "Adafactor". */
  readonly type: string
  readonly lrRole: LrRole
  /**
   * New values of every parameter and optimizer state, keyed by state name. `step` is the 1-based optimizer step
   * (an f32 scalar input); every state that the update reads and does not output stays as it is.
   */
  update(groups: ReadonlyArray<ParamGroup>, step: Tensor): Record<string, Tensor>
  /**
   * Host initial values of every optimizer state the update reads, keyed by state name. `groups` are the
   * parameters of the groups `update` gets, in the same order (a state may pack a whole group).
   */
  initialState(groups: ReadonlyArray<ReadonlyArray<ParamSpec>>): Record<string, HostTensor>
  /**
   * The states of a resumed run with those an earlier danlu saved in another layout converted to the one
   * `update` reads (`groups` as for `initialState`); absent where the layout never changed.
   */
  convertSavedState?(
    saved: Readonly<Record<string, HostTensor>>,
    groups: ReadonlyArray<ReadonlyArray<ParamSpec>>,
  ): Record<string, HostTensor>
}

/** `optimizer.<param>.<torch state name>`: the per-parameter state names, as torch's `optimizer.state[p]` keys. */
export const paramStateName = (param: string, state: string): string => `optimizer.${param}.${state}`

/** `optimizer.group<i>.<name>`: a group's states (AdamW's packed moments; Prodigy's d … in group 0). */
export const groupStateName = (group: number, state: string): string => `optimizer.group${group}.${state}`

/** Whose state a name from `paramStateName` or `groupStateName` is; undefined for any other name. */
export const stateOwner = (
  name: string,
): { readonly group: number } | { readonly param: string } | undefined => {
  if (!name.startsWith("optimizer.")) return undefined
  const group = /^optimizer\.group(\d+)\./.exec(name)
  return group
    ? { group: Number(group[1]) }
    : { param: name.slice("optimizer.".length, name.lastIndexOf(".")) }
}
