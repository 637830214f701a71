import type { Effect } from "effect"
import type { SizeConditioning } from "./sdModel.js"

/** One sample of a batch, ready for the step program. */
export interface TrainSample {
  /** Scaled VAE latents `[C, h, w]` (the `latentShape` of its batch). */
  readonly latent: Float32Array
  /** The caption after the caption pipeline (shuffle, dropout, prefix …). */
  readonly caption: string
  /** kohya's per-sample loss weight: 1, or `prior_loss_weight` for regularisation images. */
  readonly lossWeight: number
  /** SDXL's size conditioning for this sample. */
  readonly size: SizeConditioning
  /** Loss mask `[h, w]` at latent size in [0, 1] (from the image's alpha channel), or undefined. */
  readonly mask?: Float32Array | undefined
}

/** A batch: every sample from one bucket, so every latent has one shape. */
export interface TrainBatch {
  /** The bucket in pixels. */
  readonly bucket: { readonly width: number; readonly height: number }
  readonly latentShape: readonly [channels: number, height: number, width: number]
  readonly samples: ReadonlyArray<TrainSample>
}

/**
 * Where the training loop gets its data, as core sees it: the dataset package implements it over folders,
 * captions, buckets and the latent cache. Batches are planned per epoch from the seed alone, so the same
 * epoch yields the same batches in the same order every time it is asked for — which is what resuming
 * in the middle of an epoch relies on.
 */
export interface BatchSource<E> {
  /** Batches per epoch (kohya's `len(train_dataloader)`). */
  readonly batchesPerEpoch: number
  readonly batchSize: number
  /** Every (bucket, batch size) an epoch can produce, so programs can be compiled before the first step. */
  readonly shapes: ReadonlyArray<{
    readonly latentShape: readonly [number, number, number]
    readonly batch: number
  }>
  /** Loads batch `index` (0-based) of `epoch` (1-based). */
  readonly batch: (epoch: number, index: number) => Effect.Effect<TrainBatch, E>
  /** Held-out batches for the per-epoch validation loss (fixed captions, no augmentation), or none. */
  readonly validation: ReadonlyArray<TrainBatch>
}
