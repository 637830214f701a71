import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { checkTrainConfig, resolveTrainConfig } from "@danlu/core"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { readTrainConfigFile } from "../../src/train/configFile.js"
import { type LrScaling, presetNames, presetToml, scaledLearningRate } from "../../src/train/presets.js"

const loadText = async (text: string) => {
  const path = join(await mkdtemp(join(tmpdir(), "danlu-preset-")), "config.toml")
  await writeFile(path, text)
  return Effect.runPromise(readTrainConfigFile(path))
}

describe("presetToml", () => {
  it("writes each preset as a kohya TOML that loads with nothing ignored and passes the checks", async () => {
    for (const preset of presetNames) {
      const { options, ignored } = await loadText(presetToml(preset, { triggerWord: "he-tian-yi-lang" }))
      expect(ignored, preset).toEqual([])
      const config = resolveTrainConfig(options)
      expect(checkTrainConfig(config), preset).toEqual([])
      expect(config).toMatchObject({
        maxTrainEpochs: 10,
        trainBatchSize: 2,
        learningRate: 2e-4,
        shuffleCaption: true,
        saveEveryNEpochs: 2,
        outputName: "he-tian-yi-lang",
        captionExtension: ".txt",
      })
      expect(config.networkAlpha).toBe(config.networkDim / 2)
    }
  })

  it("uses the guide's ranks: 32 for anime and illustration, 64 and up for realistic subjects", async () => {
    const rank = async (preset: (typeof presetNames)[number]) =>
      (await loadText(presetToml(preset, { triggerWord: "x" }))).options.networkDim
    expect([await rank("anime"), await rank("style"), await rank("character")]).toEqual([32, 32, 32])
    expect([await rank("realistic"), await rank("product")]).toEqual([64, 64])
  })

  it("turns mirroring off and masks the loss for product shots only", async () => {
    const product = (await loadText(presetToml("product", { triggerWord: "speaker" }))).options
    expect(product).toMatchObject({ flipAug: false, maskedLoss: true, alphaMask: true })
    const anime = (await loadText(presetToml("anime", { triggerWord: "x" }))).options
    expect(anime.maskedLoss).toBeUndefined()
    expect(anime.clipSkip).toBe(2)
  })

  it("scales the learning rate with the batch by the chosen rule and says which in a comment", async () => {
    const cases: Array<[LrScaling, number, number]> = [
      ["linear", 4, 4e-4],
      ["linear", 1, 1e-4],
      ["sqrt", 8, 4e-4],
      ["sqrt", 4, 2.83e-4],
      ["none", 8, 2e-4],
    ]
    for (const [scaling, batch, expected] of cases) {
      expect(scaledLearningRate(batch, scaling)).toBeCloseTo(expected, 12)
      const text = presetToml("style", { triggerWord: "x", batchSize: batch, lrScaling: scaling })
      expect(text).toContain(`rule "${scaling}"`)
      const { options } = await loadText(text)
      expect(options).toMatchObject({ trainBatchSize: batch, learningRate: expected, unetLr: expected })
      expect(checkTrainConfig(resolveTrainConfig(options))).toEqual([])
    }
  })

  it("writes the given paths and quotes them as TOML strings", async () => {
    const text = presetToml("character", {
      triggerWord: 'a "quoted" name',
      baseModel: "C:\\models\\meina.safetensors",
      trainDataDir: "F:\\kohya\\training",
      outputDir: "out",
    })
    const { options } = await loadText(text)
    expect(options).toMatchObject({
      outputName: 'a "quoted" name',
      pretrainedModelNameOrPath: "C:\\models\\meina.safetensors",
      trainDataDir: "F:\\kohya\\training",
      outputDir: "out",
    })
  })
})
