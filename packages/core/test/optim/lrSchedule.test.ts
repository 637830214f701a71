import { describe, expect, it } from "vitest"
import { LrScheduleConfigError } from "../../src/optim/errors.js"
import {
  checkLrSchedule,
  type LrScheduleName,
  lrMultiplier,
  resolveWarmupSteps,
} from "../../src/optim/lrSchedule.js"

const at = (schedule: LrScheduleName, step: number, extra: object = {}) =>
  lrMultiplier(schedule, step, { totalSteps: 100, warmupSteps: 10, ...extra })

describe("LR schedules", () => {
  it("warm up linearly from 0 at the first step", () => {
    for (const schedule of ["constant_with_warmup", "linear", "cosine", "cosine_with_restarts"] as const) {
      expect(at(schedule, 0)).toBe(0)
      expect(at(schedule, 5)).toBe(0.5)
      expect(at(schedule, 10)).toBeCloseTo(1, 15)
    }
    expect(lrMultiplier("constant", 0, { totalSteps: 100, warmupSteps: 0 })).toBe(1)
  })

  it("decay as transformers' lambdas at hand-computed anchors", () => {
    expect(at("constant_with_warmup", 99)).toBe(1)
    expect(at("linear", 55)).toBe(0.5)
    expect(at("linear", 100)).toBe(0)
    expect(at("linear", 120)).toBe(0)
    expect(at("cosine", 40)).toBeCloseTo(0.75, 15)
    expect(at("cosine", 55)).toBeCloseTo(0.5, 15)
    expect(at("cosine", 100)).toBe(0)
    expect(at("cosine_with_restarts", 40, { numCycles: 2 })).toBeCloseTo(0.25, 15)
    expect(at("cosine_with_restarts", 55, { numCycles: 2 })).toBe(1)
    expect(at("cosine_with_restarts", 100, { numCycles: 2 })).toBe(0)
    expect(at("polynomial", 55, { power: 2, initialLr: 1e-4 })).toBeCloseTo(0.25075, 14)
    expect(at("polynomial", 100, { power: 2, initialLr: 1e-4 })).toBeCloseTo(0.001, 14)
    expect(at("polynomial", 120, { power: 2, initialLr: 1e-4 })).toBeCloseTo(0.001, 14)
    expect(at("cosine_with_min_lr", 55, { minLrRatio: 0.1 })).toBeCloseTo(0.55, 15)
    expect(at("cosine_with_min_lr", 100, { minLrRatio: 0.1 })).toBeCloseTo(0.1, 15)
  })

  it("reads lr_warmup_steps as a count, a ratio or a percentage as kohya does", () => {
    expect(resolveWarmupSteps(50, 1600)).toBe(50)
    expect(resolveWarmupSteps(0.1, 1600)).toBe(160)
    expect(resolveWarmupSteps("0.333", 10)).toBe(3)
    expect(resolveWarmupSteps("5%", 1600)).toBe(80)
    expect(resolveWarmupSteps(1, 10)).toBe(1)
    expect(() => resolveWarmupSteps("1.5", 10)).toThrow(LrScheduleConfigError)
    expect(() => resolveWarmupSteps("ten", 10)).toThrow(LrScheduleConfigError)
  })

  it("refuses what kohya and transformers refuse, in one line", () => {
    const refused = (name: string, options: object) => {
      try {
        checkLrSchedule(name, { totalSteps: 100, warmupSteps: 0, ...options })
      } catch (error) {
        if (error instanceof LrScheduleConfigError) return error.message
        throw error
      }
      return "accepted"
    }
    expect(refused("cosine", {})).toBe("accepted")
    expect(refused("constant", { warmupSteps: 10 })).toBe(
      "lr_scheduler constant: takes no warmup; use constant_with_warmup or set lr_warmup_steps to 0",
    )
    expect(refused("cosine_annealing", {})).toContain(
      "unknown schedule; accepted: constant, constant_with_warmup",
    )
    expect(refused("polynomial", { initialLr: 1e-8 })).toContain("must exceed lr_end")
    expect(refused("cosine_with_min_lr", {})).toContain("lr_scheduler_min_lr_ratio")
  })
})
