import { describe, expect, it } from "vitest"
import { compileExact } from "../reference/evaluate.js"
import { refFromHost } from "../reference/storage.js"
import { isFloat } from "../tensor/dtype.js"
import { buildCaseGraph } from "./caseGraph.js"
import type { OpCase } from "./opCase.js"
import { allCases } from "./runConformance.js"

/**
 * Checks a case's VJP against central finite differences of `sum(output · cotangent)`, all in f64 on
 * the exact reference. Returns the worst mismatch, or undefined.
 */
export const finiteDifferenceMismatch = (opCase: OpCase, step = 1e-5): string | undefined => {
  const { output, gradients, feeds } = buildCaseGraph(opCase, "f32")
  if (gradients.length === 0) return undefined
  const values = Object.fromEntries(Object.entries(feeds).map(([name, host]) => [name, refFromHost(host)]))
  const forward = compileExact([output])
  const analytic = compileExact(gradients)(values)
  const cotangent = values.cotangent!
  const objective = (v: typeof values): number => {
    const y = forward(v)[0]!
    let total = 0
    for (let i = 0; i < y.length; i++) total += y[i]! * cotangent[i]!
    return total
  }
  const floatInputs = Object.keys(feeds).filter((name) => name !== "cotangent" && isFloat(feeds[name]!.dtype))
  for (const [k, name] of floatInputs.entries()) {
    const x = values[name]!
    for (let i = 0; i < x.length; i++) {
      const original = x[i]!
      x[i] = original + step
      const plus = objective(values)
      x[i] = original - step
      const minus = objective(values)
      x[i] = original
      const numeric = (plus - minus) / (2 * step)
      const exact = analytic[k]![i]!
      if (!(Math.abs(numeric - exact) <= 1e-6 + 1e-5 * Math.abs(exact))) {
        return `d/d${name}[${i}]: autodiff ${exact}, finite differences ${numeric}`
      }
    }
  }
  return undefined
}

/** Registers a finite-difference test for every differentiable conformance case. */
export const runFiniteDifferenceChecks = (): void => {
  describe("VJP rules against central finite differences (f64)", () => {
    for (const [op, opCase] of allCases()) {
      if (opCase.differentiable === false) continue
      it(`${op}: ${opCase.name}`, () => {
        expect(finiteDifferenceMismatch(opCase)).toBeUndefined()
      })
    }
  })
}
