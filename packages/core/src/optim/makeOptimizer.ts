import { Effect } from "effect"
import { adafactorFromArgs } from "./adafactor.js"
import { adamWFromArgs } from "./adamW.js"
import { adamW8bitFromArgs } from "./adamW8bit.js"
import { dadaptAdamFromArgs } from "./dadaptAdam.js"
import { dadaptAdamPreprintFromArgs } from "./dadaptAdamPreprint.js"
import { OptimizerConfigError } from "./errors.js"
import { lionFromArgs } from "./lion.js"
import type { Optimizer } from "./optimizer.js"
import { OptimizerArgs } from "./optimizerArgs.js"
import { prodigyFromArgs } from "./prodigy.js"
import { sgdFromArgs } from "./sgd.js"

/**
 * kohya's optimizer_type names (matched case-insensitively, as kohya lowers them) and the fully qualified class
 * names kohya also accepts for the same classes. "" is kohya's default, AdamW.
 */
const builders: ReadonlyArray<readonly [ReadonlyArray<string>, (args: OptimizerArgs) => Optimizer]> = [
  [["AdamW", "", "torch.optim.AdamW"], adamWFromArgs],
  [["AdamW8bit", "bitsandbytes.optim.AdamW8bit"], adamW8bitFromArgs],
  [["Lion", "lion_pytorch.Lion"], lionFromArgs],
  [["SGDNesterov"], (args) => sgdFromArgs(args, true)],
  [["SGD", "torch.optim.SGD"], (args) => sgdFromArgs(args, false)],
  [["Prodigy", "prodigyopt.Prodigy"], prodigyFromArgs],
  [["AdaFactor", "transformers.optimization.Adafactor"], adafactorFromArgs],
  [["DAdaptAdam", "dadaptation.DAdaptAdam"], dadaptAdamFromArgs],
  [
    ["DAdaptation", "DAdaptAdamPreprint", "dadaptation.experimental.DAdaptAdamPreprint"],
    dadaptAdamPreprintFromArgs,
  ],
]

/** The optimizer_type values `makeOptimizer` accepts, in kohya's spelling. */
export const optimizerTypes = [
  "AdamW",
  "AdamW8bit",
  "Lion",
  "SGDNesterov",
  "SGD",
  "Prodigy",
  "AdaFactor",
  "DAdaptAdam",
  "DAdaptation",
  "DAdaptAdamPreprint",
] as const

/**
 * The optimizer kohya builds for `--optimizer_type type --optimizer_args args…`: each arg "key=value" with the value
 * read as a Python literal. Throws `OptimizerConfigError` for an unknown type or an argument the optimizer does not take.
 */
export const makeOptimizer = (type: string, args: ReadonlyArray<string> = []): Optimizer => {
  const key = type.trim().toLowerCase()
  const builder = builders.find(([names]) => names.some((name) => name.toLowerCase() === key))
  if (builder === undefined)
    throw new OptimizerConfigError({
      optimizer: type,
      detail: `unknown optimizer_type; accepted: ${optimizerTypes.join(", ")}`,
    })
  return builder[1](new OptimizerArgs(type, args))
}

/** `makeOptimizer` as an Effect that fails with its `OptimizerConfigError`. */
export const loadOptimizer = (
  type: string,
  args: ReadonlyArray<string> = [],
): Effect.Effect<Optimizer, OptimizerConfigError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(makeOptimizer(type, args))
    } catch (error) {
      if (error instanceof OptimizerConfigError) return Effect.fail(error)
      throw error
    }
  })
