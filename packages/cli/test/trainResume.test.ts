import { readdir } from "node:fs/promises"
import { join } from "node:path"
import { layer as onnxLayer } from "@danlu/backend-onnx"
import { resolveTrainConfig } from "@danlu/core"
import { openModelFile } from "@danlu/core/node"
import { train } from "@danlu/dataset"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"
import { microTrainingSet, tensorBytes } from "./trainFixtures.js"

let root = ""
let model = ""
let data = ""

beforeAll(async () => {
  ;({ root, model, data } = await microTrainingSet("danlu-train-resume-"))
})

const args = (out: string) => [
  "train",
  "--pretrained_model_name_or_path",
  model,
  "--train_data_dir",
  data,
  "--output_dir",
  out,
  "--output_name",
  "sks",
  "--resolution",
  "16",
  "--network_dim",
  "4",
  "--network_alpha",
  "2",
  "--learning_rate",
  "1e-2",
  "--train_batch_size",
  "2",
  "--max_train_epochs",
  "2",
  "--save_every_n_epochs",
  "1",
  "--save_state",
  "--shuffle_caption",
  "--network_dropout",
  "0.1",
  "--network_args",
  "rank_dropout=0.2",
  "module_dropout=0.1",
  "--caption_extension",
  ".txt",
  "--seed",
  "7",
  "--backend",
  "onnx",
]

describe("danlu train --resume", () => {
  it("a run stopped mid-epoch and resumed from its state ends bit-identical to an uninterrupted one (caption shuffling and LoRA dropouts included); another run's state is refused", async () => {
    const whole = join(root, "whole")
    const uninterrupted = await runCli(args(whole))
    expect(uninterrupted.error).toBeUndefined()
    expect((await readdir(whole)).filter((f) => !f.startsWith(".")).sort()).toEqual([
      "sks-000001-state",
      "sks-000001.safetensors",
      "sks-loss.png",
      "sks-state",
      "sks.safetensors",
    ])
    expect((await readdir(join(whole, "sks-000001-state"))).sort()).toEqual([
      "state.safetensors",
      "train_state.json",
    ])

    // The same run in-process, stopped after step 3 of 8 (mid-epoch 1) as Ctrl-C would stop it.
    const parts = join(root, "parts")
    let steps = 0
    const stopped = await Effect.runPromise(
      Effect.scoped(
        train(
          resolveTrainConfig({
            pretrainedModelNameOrPath: model,
            trainDataDir: data,
            outputDir: parts,
            outputName: "sks",
            resolution: { width: 16, height: 16 },
            networkDim: 4,
            networkAlpha: 2,
            learningRate: 1e-2,
            trainBatchSize: 2,
            maxTrainEpochs: 2,
            saveEveryNEpochs: 1,
            saveState: true,
            shuffleCaption: true,
            networkDropout: 0.1,
            networkArgs: { rankDropout: 0.2, moduleDropout: 0.1 },
            captionExtension: ".txt",
            seed: 7,
          }),
          {
            emit: (event) => {
              if (event.type === "step") steps++
            },
            stopRequested: () => steps >= 3,
          },
        ),
      ).pipe(Effect.provide(onnxLayer)),
    )
    expect([stopped.interrupted, stopped.progress.step]).toEqual([true, 3])
    const resumed = await runCli([...args(parts), "--resume", stopped.statePath!])
    expect(resumed.error).toBeUndefined()
    const [expected, actual] = [
      await tensorBytes(join(whole, "sks.safetensors")),
      await tensorBytes(join(parts, "sks.safetensors")),
    ]
    expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort())
    for (const name of Object.keys(expected)) expect(actual[name], name).toEqual(expected[name])
    const metadata = await Effect.runPromise(
      Effect.scoped(Effect.map(openModelFile(join(parts, "sks.safetensors")), (file) => file.metadata)),
    )
    expect([metadata.ss_network_dropout, JSON.parse(metadata.ss_network_args!)]).toEqual([
      "0.1",
      { rank_dropout: "0.2", module_dropout: "0.1" },
    ])

    const otherArgs = args(join(root, "other"))
    otherArgs[otherArgs.indexOf("--network_dim") + 1] = "8"
    const other = await runCli([...otherArgs, "--resume", stopped.statePath!])
    expect(other.error?.message).toMatch(
      /^--resume .*-state is the state of another run: network_dim is 4 there and 8 here; resume with that run's settings/,
    )
  }, 240_000)
})
