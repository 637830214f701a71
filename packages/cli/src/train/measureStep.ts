import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { MeasuredStep, TrainConfig } from "@danlu/core"
import { train } from "@danlu/dataset"
import { Effect } from "effect"
import sharp from "sharp"
import { backendLayer } from "../commands/train.js"

/** Steps run to measure: the first warms up, the others are timed. */
export const measuredSteps = 3

/**
 * Trains `config` for a few steps on its backend, on one batch of synthetic images the size of the largest
 * bucket, in a temporary folder: the step program of that shape is compiled and run as a real run would,
 * then timed (compile, the warm-up step, the mean of the others) and the process's peak memory read.
 */
export const measureStep = (
  config: TrainConfig,
  bucket: { readonly width: number; readonly height: number },
) =>
  Effect.acquireUseRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "danlu-measure-"))),
    (dir) =>
      Effect.gen(function* () {
        const concept = join(dir, "train", "1_measure")
        yield* Effect.promise(async () => {
          await mkdir(concept, { recursive: true })
          // An alpha channel, so that a run with masked_loss measures its masked step.
          const png = await sharp({
            create: { ...bucket, channels: 4, background: { r: 128, g: 128, b: 128, alpha: 1 } },
          })
            .png()
            .toBuffer()
          for (let i = 0; i < config.trainBatchSize; i++) {
            await writeFile(join(concept, `${i}.png`), png)
            await writeFile(join(concept, `${i}.txt`), "measure")
          }
        })
        const {
          regDataDir: _reg,
          datasetConfig: _datasets,
          maxTrainEpochs: _epochs,
          saveEveryNEpochs: _saveEpochs,
          saveEveryNSteps: _saveSteps,
          saveLastNEpochs: _lastEpochs,
          saveLastNSteps: _lastSteps,
          sampleEveryNEpochs: _sampleEpochs,
          sampleEveryNSteps: _sampleSteps,
          samplePrompts: _prompts,
          loggingDir: _logs,
          resume: _resume,
          ...kept
        } = config
        const measured: TrainConfig = {
          ...kept,
          trainDataDir: join(dir, "train"),
          outputDir: join(dir, "out"),
          outputName: "measure",
          enableBucket: false,
          resolution: bucket,
          maxTrainSteps: measuredSteps,
          gradientAccumulationSteps: 1,
          validationSplit: 0,
          saveState: false,
          saveStateOnTrainEnd: false,
          sampleAtFirst: false,
        }
        const now = () => performance.now() / 1000
        let shape = ""
        let compileSeconds = 0
        let compiledAt = 0
        const stepTimes: Array<number> = []
        yield* Effect.scoped(
          train(measured, {
            emit: (event) => {
              if (event.type === "compile") {
                shape = event.shape
                compileSeconds = event.seconds
                compiledAt = now()
              }
              if (event.type === "step") stepTimes.push(now())
            },
            stopRequested: () => false,
          }),
        ).pipe(Effect.provide(yield* backendLayer(config.backend)))
        const [first, ...rest] = stepTimes
        const last = rest.at(-1)
        const step: MeasuredStep = {
          shape,
          compileSeconds,
          warmupSeconds: (first ?? compiledAt) - compiledAt,
          stepSeconds: first !== undefined && last !== undefined ? (last - first) / rest.length : Number.NaN,
          // maxRSS is in KiB.
          peakBytes: process.resourceUsage().maxRSS * 1024,
        }
        return step
      }),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
  )
