import { LrScheduleConfigError } from "./errors.js"

/** kohya's `--lr_scheduler` names that danlu runs (transformers' schedule lambdas via kohya's get_scheduler_fix). */
export const lrScheduleNames = [
  "constant",
  "constant_with_warmup",
  "linear",
  "cosine",
  "cosine_with_restarts",
  "polynomial",
  "cosine_with_min_lr",
] as const

export type LrScheduleName = (typeof lrScheduleNames)[number]

export interface LrScheduleOptions {
  /** Scheduler steps of the whole run: kohya's max_train_steps × num_processes. */
  readonly totalSteps: number
  /** Warmup steps as a count (see `resolveWarmupSteps`); 0 = none. */
  readonly warmupSteps: number
  /** `--lr_scheduler_num_cycles`, default 1 (cosine_with_restarts; halved for cosine_with_min_lr as kohya does). */
  readonly numCycles?: number
  /** `--lr_scheduler_power`, default 1 (polynomial). */
  readonly power?: number
  /** `--lr_scheduler_min_lr_ratio` (cosine_with_min_lr; required there). */
  readonly minLrRatio?: number
  /** The optimizer's initial learning rate, which polynomial decays towards lr_end 1e-7 (kohya's learning_rate). */
  readonly initialLr?: number
}

/** transformers' lr_end for polynomial decay (kohya passes none). */
const polynomialLrEnd = 1e-7

/**
 * `--lr_warmup_steps` as kohya reads it (int_or_float): a value ≥ 1 is a step count, a value < 1 a ratio of the
 * total steps, "N%" is N/100; a ratio becomes int(ratio · totalSteps).
 */
export const resolveWarmupSteps = (value: number | string, totalSteps: number): number => {
  const text = String(value).trim()
  const ratio = text.endsWith("%") ? Number(text.slice(0, -1)) / 100 : Number(text)
  const percent = text.endsWith("%")
  if (!Number.isFinite(ratio) || ratio < 0 || (!percent && ratio >= 1 && !Number.isInteger(ratio)))
    throw new LrScheduleConfigError({
      schedule: "lr_warmup_steps",
      detail: `"${text}" is not a step count, a ratio < 1 or a percentage`,
    })
  return percent || ratio < 1 ? Math.trunc(ratio * totalSteps) : ratio
}

/**
 * Checks a schedule name and its options the way kohya's get_scheduler_fix and transformers refuse them: an unknown
 * name, warmup with constant, cosine_with_min_lr without a ratio, polynomial whose initial lr does not exceed 1e-7.
 */
export const checkLrSchedule = (name: string, options: LrScheduleOptions): LrScheduleName => {
  const schedule = lrScheduleNames.find((n) => n === name)
  if (schedule === undefined)
    throw new LrScheduleConfigError({
      schedule: name,
      detail: `unknown schedule; accepted: ${lrScheduleNames.join(", ")}`,
    })
  if (schedule === "constant" && options.warmupSteps !== 0)
    throw new LrScheduleConfigError({
      schedule,
      detail: "takes no warmup; use constant_with_warmup or set lr_warmup_steps to 0",
    })
  if (schedule === "cosine_with_min_lr" && options.minLrRatio === undefined)
    throw new LrScheduleConfigError({ schedule, detail: "needs lr_scheduler_min_lr_ratio" })
  if (schedule === "polynomial" && !((options.initialLr ?? 0) > polynomialLrEnd))
    throw new LrScheduleConfigError({
      schedule,
      detail: `the learning rate must exceed lr_end ${polynomialLrEnd}`,
    })
  return schedule
}

/**
 * The factor on each group's base learning rate after `step` scheduler steps (0-based: the first optimizer step
 * uses step 0, so a warmup starts at 0). Exactly transformers' LambdaLR lambdas with kohya's arguments.
 */
export const lrMultiplier = (schedule: LrScheduleName, step: number, options: LrScheduleOptions): number => {
  const { totalSteps: total, warmupSteps: warmup } = options
  if (schedule === "constant") return 1
  if (step < warmup) return step / Math.max(1, warmup)
  const progress = (step - warmup) / Math.max(1, total - warmup)
  switch (schedule) {
    case "constant_with_warmup":
      return 1
    case "linear":
      return Math.max(0, (total - step) / Math.max(1, total - warmup))
    case "cosine":
      // kohya passes no num_cycles, so transformers' default 0.5: a half cosine down to 0.
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)))
    case "cosine_with_restarts": {
      if (progress >= 1) return 0
      const cycles = options.numCycles ?? 1
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * ((cycles * progress) % 1))))
    }
    case "cosine_with_min_lr": {
      const cycles = (options.numCycles ?? 1) / 2
      const minRatio = options.minLrRatio ?? 0
      const factor = 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress))
      return Math.max(0, factor * (1 - minRatio) + minRatio)
    }
    case "polynomial": {
      const initial = options.initialLr ?? 0
      if (step > total) return polynomialLrEnd / initial
      const remaining = 1 - (step - warmup) / (total - warmup)
      return ((initial - polynomialLrEnd) * remaining ** (options.power ?? 1) + polynomialLrEnd) / initial
    }
  }
}
