/** What a training run reports while it runs; the CLI renders these, the library streams them. */
export type TrainEvent =
  | {
      readonly type: "start"
      readonly totalSteps: number
      readonly epochs: number
      readonly batchesPerEpoch: number
      /** Optimizer steps already done (resumed runs). */
      readonly startStep: number
      readonly startEpoch: number
    }
  | { readonly type: "compile"; readonly shape: string; readonly seconds: number }
  | {
      readonly type: "step"
      readonly epoch: number
      /** Optimizer steps done, 1-based. */
      readonly step: number
      readonly totalSteps: number
      readonly loss: number
      /** kohya's `loss/average`: the mean of the last epoch's worth of step losses. */
      readonly averageLoss: number
      readonly gradNorm: number
      /** The learning rate of each parameter group, by kohya's log name: "unet", "textencoder". */
      readonly lr: Readonly<Record<string, number>>
      readonly itPerSecond: number
      readonly samplesPerSecond: number
      readonly etaSeconds: number
    }
  | {
      readonly type: "epoch"
      readonly epoch: number
      readonly averageLoss: number
      readonly validationLoss: number | undefined
    }
  | { readonly type: "saved"; readonly kind: "epoch" | "step" | "final" | "state"; readonly path: string }
  | { readonly type: "removed"; readonly path: string }

/** The step names TensorBoard and kohya's logs use for a step event's scalars. */
export const stepScalars = (event: Extract<TrainEvent, { type: "step" }>): Record<string, number> => {
  const scalars: Record<string, number> = {
    "loss/current": event.loss,
    "loss/average": event.averageLoss,
    grad_norm: event.gradNorm,
  }
  for (const [group, lr] of Object.entries(event.lr)) scalars[`lr/${group}`] = lr
  return scalars
}
