import {
  hostTensor,
  lrMultiplier,
  resolveWarmupSteps,
  stepInputNames,
  stepKey,
  type TrainConfig,
  type TrainEvent,
  type TrainLoopOptions,
} from "@danlu/core"

/**
 * What every kind of run (LoRA, full fine-tuning) hands the loop from kohya's options alone: the learning
 * rate schedule, the step arithmetic, the save points and the validation loss's fixed noise.
 */
export const loopScheduleOf = (
  config: TrainConfig,
  run: { readonly seed: number; readonly totalSteps: number; readonly epochs: number },
) =>
  ({
    validationInputs: () => ({
      [stepInputNames.noiseKey]: hostTensor("u32", [4], stepKey(config.validationSeed ?? run.seed, 0xffff)),
    }),
    lrMultiplier: (step: number) =>
      lrMultiplier(config.lrScheduler === "adafactor" ? "constant" : config.lrScheduler, step, {
        totalSteps: run.totalSteps,
        warmupSteps: resolveWarmupSteps(config.lrWarmupSteps, run.totalSteps),
        numCycles: config.lrSchedulerNumCycles,
        power: config.lrSchedulerPower,
        initialLr: config.learningRate,
      }),
    epochs: run.epochs,
    totalSteps: run.totalSteps,
    gradientAccumulationSteps: config.gradientAccumulationSteps,
    saveEveryNEpochs: config.saveEveryNEpochs,
    saveEveryNSteps: config.saveEveryNSteps,
    saveLastNEpochs: config.saveLastNEpochs,
    saveState: config.saveState,
  }) satisfies Partial<TrainLoopOptions<unknown>>

/** The held-out losses of the epochs so far, for each saved file's `danlu.validation_loss`. */
export const validationLossLog = () => {
  const losses: Array<{ epoch: number; loss: number }> = []
  return {
    record: (event: TrainEvent) => {
      if (event.type === "epoch" && event.validationLoss !== undefined)
        losses.push({ epoch: event.epoch, loss: event.validationLoss })
    },
    metadata: (): Record<string, string> =>
      losses.length === 0 ? {} : { "danlu.validation_loss": JSON.stringify(losses) },
  }
}
