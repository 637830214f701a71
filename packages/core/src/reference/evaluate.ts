import { bindLaunches, launchPlan } from "../backend/executor.js"
import { immediateDevice } from "../backend/immediate.js"
import { planExecution } from "../backend/plan.js"
import type { Tensor } from "../tensor/tensor.js"
import { referenceKernels } from "./kernels/index.js"
import { allocateRef, type RefArray, refBytes, referenceSizeClasses } from "./storage.js"

/** The reference kernels without rounding: every dtype computes in f64. The truth for finite differences. */
export const exactDevice = immediateDevice<RefArray>(
  {
    name: "reference-f64",
    allocate: ({ dtype, shape }) => allocateRef(dtype, shape),
    bytesOf: ({ dtype, shape }) => refBytes(dtype, shape),
    fromHost: () => {
      throw new Error("the exact evaluator takes f64 arrays, not host tensors")
    },
    write: () => {
      throw new Error("the exact evaluator takes f64 arrays, not host tensors")
    },
    toHost: () => Promise.reject(new Error("the exact evaluator returns f64 arrays")),
    copy: (from, to) => {
      to.set(from)
    },
    poolKey: ({ dtype, shape }) => `${dtype}:${shape.reduce((a, b) => a * b, 1)}`,
    sizeClasses: referenceSizeClasses,
  },
  referenceKernels,
  {},
)

/**
 * Compiles tensors for evaluation in f64 with no rounding, binding every `input` and `state` by name.
 * Synchronous and reusable, so tests can run it thousands of times for finite differences.
 */
export const compileExact = (
  outputs: ReadonlyArray<Tensor>,
): ((feeds: Readonly<Record<string, RefArray>>) => Array<RefArray>) => {
  const plan = planExecution(exactDevice, {
    outputs: Object.fromEntries(outputs.map((t, i) => [`out${i}`, t])),
  })
  const launches = launchPlan(exactDevice, plan)
  const view = referenceSizeClasses.view
  const sources = [...plan.inputSlots, ...plan.stateSlots]
  const sourceSlots = new Set(sources.map(([, slot]) => slot))
  const slots = plan.slotSpecs.map((spec, slot) =>
    sourceSlots.has(slot) ? undefined : allocateRef(spec.dtype, spec.shape),
  )
  const results = plan.analyzed.outputs.map((spec) => ({
    spec,
    slot: plan.slotOf.get(plan.analyzed.graph.outputs[spec.name]!.id)!,
  }))
  return (feeds) => {
    for (const [name, slot] of sources) {
      const value = feeds[name]
      if (!value) throw new Error(`evaluateExact: no value fed for "${name}"`)
      slots[slot] = value
    }
    exactDevice.replay(exactDevice.record(bindLaunches(plan, launches, slots, view), []))
    return results.map(({ spec, slot }) => view(slots[slot]!, spec).slice())
  }
}

/** Evaluates tensors once in f64 with no rounding (see `compileExact`). */
export const evaluateExact = (
  outputs: ReadonlyArray<Tensor>,
  feeds: Readonly<Record<string, RefArray>>,
): Array<RefArray> => compileExact(outputs)(feeds)
