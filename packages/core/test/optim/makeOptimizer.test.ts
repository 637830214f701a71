import { describe, expect, it } from "vitest"
import { OptimizerConfigError } from "../../src/optim/errors.js"
import { makeOptimizer } from "../../src/optim/makeOptimizer.js"
import { parsePyLiteral } from "../../src/optim/optimizerArgs.js"
import { expectClose, runOptimizer } from "./runOptimizer.js"

const configError = (run: () => unknown): OptimizerConfigError => {
  try {
    run()
  } catch (error) {
    if (error instanceof OptimizerConfigError) return error
    throw error
  }
  throw new Error("no error")
}

describe("optimizer_args", () => {
  it("reads values as Python literals, as kohya's ast.literal_eval does", () => {
    expect(parsePyLiteral("0.01")).toBe(0.01)
    expect(parsePyLiteral("1e-8")).toBe(1e-8)
    expect(parsePyLiteral("-3")).toBe(-3)
    expect(parsePyLiteral("True")).toBe(true)
    expect(parsePyLiteral("False")).toBe(false)
    expect(parsePyLiteral("None")).toBe(null)
    expect(parsePyLiteral("(0.9,0.99)")).toEqual([0.9, 0.99])
    expect(parsePyLiteral("0.9, 0.99")).toEqual([0.9, 0.99])
    expect(parsePyLiteral("[1, 2]")).toEqual([1, 2])
    expect(parsePyLiteral("(1e-30, 1e-3)")).toEqual([1e-30, 1e-3])
    expect(parsePyLiteral("(5)")).toBe(5)
    expect(parsePyLiteral("(5,)")).toEqual([5])
    expect(parsePyLiteral("'x'")).toBe("x")
    expect(() => parsePyLiteral("true")).toThrow()
    expect(() => parsePyLiteral("0.9)")).toThrow()
  })

  it("refuses unknown types, unknown arguments and values of the wrong kind in one line", () => {
    const unknownType = configError(() => makeOptimizer("Adam9000"))
    expect(unknownType.message).toBe(
      "optimizer Adam9000: unknown optimizer_type; accepted: AdamW, AdamW8bit, Lion, SGDNesterov, SGD, Prodigy, AdaFactor, DAdaptAdam, DAdaptation, DAdaptAdamPreprint",
    )
    const unknownArg = configError(() => makeOptimizer("AdamW", ["weight_decay=0.1", "foo=1"]))
    expect(unknownArg.argument).toBe("foo")
    expect(unknownArg.message).toBe(
      "optimizer AdamW: foo: unknown argument; accepted: betas, eps, weight_decay",
    )
    expect(configError(() => makeOptimizer("Lion", ["betas=0.9"])).message).toBe(
      "optimizer Lion: betas: expected a pair of numbers like (0.9,0.999), got 0.9",
    )
    expect(configError(() => makeOptimizer("Prodigy", ["decouple=1"])).message).toBe(
      "optimizer Prodigy: decouple: expected True or False, got 1",
    )
    expect(configError(() => makeOptimizer("Prodigy", ["d0=true"])).argument).toBe("d0")
    expect(configError(() => makeOptimizer("AdamW", ["weight_decay"])).message).toContain(
      'expected "key=value"',
    )
    expect(configError(() => makeOptimizer("SGD", ["nesterov=True"])).argument).toBe("momentum")
    expect(configError(() => makeOptimizer("SGDNesterov", ["nesterov=True"])).argument).toBe("nesterov")
    for (const error of [unknownType, unknownArg]) expect(error.message).not.toContain("\n")
  })

  it("matches type names case-insensitively, with kohya's default AdamW for an empty type", () => {
    expect(makeOptimizer("adamw8bit").type).toBe("AdamW8bit")
    expect(makeOptimizer("").type).toBe("AdamW")
    expect(makeOptimizer("adafactor").lrRole).toBe("ignored")
    expect(makeOptimizer("Adafactor", ["relative_step=False"]).lrRole).toBe("step-size")
    expect(makeOptimizer("Adafactor", ["relative_step=False", "warmup_init=True"]).lrRole).toBe("ignored")
    expect(makeOptimizer("PRODIGY").lrRole).toBe("multiplier")
    expect(makeOptimizer("sgdnesterov").type).toBe("SGDNesterov")
  })
})

describe("AdamW through makeOptimizer", () => {
  it("steps each group at its own lr with the arguments given", () => {
    const optimizer = makeOptimizer("AdamW", ["betas=(0.8,0.99)", "weight_decay=0.1", "eps=1e-6"])
    const params = [
      { name: "a", shape: [3], init: Float64Array.of(0.5, -1, 2) },
      { name: "b", shape: [2], init: Float64Array.of(0.25, 3), group: 1 },
    ]
    const grads = (t: number) => ({
      a: Float64Array.of(0.1 * t, -0.3, 0.05),
      b: Float64Array.of(-0.2, 0.4 / t),
    })
    const lrs = (t: number) => [0.01 * t, 0.002]
    const history = runOptimizer(optimizer, params, 3, grads, lrs)
    for (const [index, { name, init }] of params.entries()) {
      const [p, m, v] = [
        Float64Array.from(init),
        new Float64Array(init.length),
        new Float64Array(init.length),
      ]
      for (let t = 1; t <= 3; t++) {
        const lr = lrs(t)[index]!
        const g = grads(t)[name as "a" | "b"]
        for (let i = 0; i < p.length; i++) {
          p[i] = p[i]! * (1 - lr * 0.1)
          m[i] = 0.8 * m[i]! + 0.2 * g[i]!
          v[i] = 0.99 * v[i]! + 0.01 * g[i]! * g[i]!
          p[i] =
            p[i]! - (lr / (1 - 0.8 ** t)) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(1 - 0.99 ** t) + 1e-6))
        }
        expectClose(history[t - 1]![name]!, p)
        expectClose(history[t - 1]![`optimizer.group${index}.exp_avg_sq`]!, v)
      }
    }
  })
})
