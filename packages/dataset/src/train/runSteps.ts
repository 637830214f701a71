import {
  accumulatorName,
  type BatchShape,
  buildTrainingStep,
  buildValidationLoss,
  type HostTensor,
  hostTensor,
  type StepOptions,
  stateOwner,
  stepInputNames,
  stepKey,
  type Tensor,
  type TrainingStepSpec,
} from "@danlu/core"

/** The model a step graph trains at one batch shape, with the parameter groups it trains. */
export interface StepModel {
  readonly latents: Tensor
  readonly denoise: TrainingStepSpec["denoise"]
  readonly groups: TrainingStepSpec["groups"]
}

/**
 * The training-step and validation-loss graphs of a run, one per batch shape, shared by LoRA training and full
 * fine-tuning: `train` builds the model a step trains, `validate` the one the held-out loss reads (LoRA
 * training leaves its dropout out there). `stepInitial` gathers the starting values of the steps' own states
 * (gradient accumulators) as the graphs are built.
 */
export const stepGraphs = (spec: {
  readonly train: (shape: BatchShape) => StepModel
  readonly validate: (shape: BatchShape) => Pick<StepModel, "latents" | "denoise">
  readonly optimizer: TrainingStepSpec["optimizer"]
  readonly optimizerStates: NonNullable<TrainingStepSpec["optimizerStates"]>
  readonly options: StepOptions
}) => {
  let stepInitial: Record<string, HostTensor> = {}
  const { gradientAccumulationSteps: _a, maxGradNorm: _m, ...lossOptions } = spec.options
  return {
    stepGraph: (shape: BatchShape) => {
      const { latents, denoise, groups } = spec.train(shape)
      const step = buildTrainingStep({
        latents,
        denoise,
        groups,
        optimizer: spec.optimizer,
        optimizerStates: spec.optimizerStates,
        options: spec.options,
      })
      stepInitial = { ...stepInitial, ...step.initialState }
      return step.graph
    },
    validationGraph: (shape: BatchShape) => {
      const { latents, denoise } = spec.validate(shape)
      return buildValidationLoss({ latents, denoise, options: lossOptions }).graph
    },
    stepInitial: (name: string): HostTensor | undefined => stepInitial[name],
  }
}

export const scalarTensor = (value: number): HostTensor => hostTensor("f32", [], Float32Array.of(value))

/** The inputs every training step takes: its noise key, the optimizer step and, with accumulation, whether to apply. */
export const stepCounterInputs =
  (seed: number, accumulation: number) =>
  ({
    microStep,
    optimizerStep,
    apply,
  }: {
    readonly microStep: number
    readonly optimizerStep: number
    readonly apply: boolean
  }): Record<string, HostTensor> => ({
    [stepInputNames.noiseKey]: hostTensor("u32", [4], stepKey(seed, microStep)),
    [stepInputNames.step]: scalarTensor(optimizerStep),
    ...(accumulation > 1 ? { [stepInputNames.applyUpdate]: scalarTensor(apply ? 1 : 0) } : {}),
  })

/** Whether a state is the run's to save and resume: a trained weight, an optimizer state or a gradient sum. */
export const isTrainingStateOf =
  (trained: ReadonlySet<string>) =>
  (name: string): boolean =>
    trained.has(name) || stateOwner(name) !== undefined || name.startsWith(accumulatorName(""))
