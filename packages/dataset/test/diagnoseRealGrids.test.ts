import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import {
  type DiagnosisCell,
  decodeImageRgb,
  defaultDiagnosisThresholds,
  diagnoseGrid,
  overFitRemedies,
  underFitRemedies,
} from "../src/index.js"

// Cells of real demo runs; fixtures/demo-grids/README.md says which run made each.
const dir = join(import.meta.dirname, "fixtures", "demo-grids")
const read = async (file: string) => decodeImageRgb(new Uint8Array(await readFile(join(dir, file))))

describe("diagnoseGrid on the demo's real grids", async () => {
  const training = await Promise.all(
    (await readdir(join(dir, "training"))).map(async (id) => ({
      id,
      image: await read(join("training", id)),
    })),
  )
  const base = await read("base.png")
  const cell = async (file: string, epoch: number, weight: number): Promise<DiagnosisCell> => ({
    epoch,
    weight,
    variant: "seed 1",
    image: await read(file),
  })
  const grid = async (...cells: ReadonlyArray<Promise<DiagnosisCell>>) =>
    diagnoseGrid([{ epoch: 2, weight: 0, variant: "seed 1", image: base }, ...(await Promise.all(cells))], {
      training,
    })
  const under = await grid(cell("under-e2-w0.5.png", 2, 0.5), cell("under-e8-w1.png", 8, 1))
  const tuned = await grid(
    cell("tuned-e2-w0.5.png", 2, 0.5),
    cell("tuned-e8-w0.5.png", 8, 0.5),
    cell("tuned-e16-w1.png", 16, 1),
  )
  const fried = await grid(cell("fried-e8-w1.png", 8, 1))

  it("calls the under-trained run under-fit although every cell changed visibly", () => {
    const trained = under.cells.slice(1)
    expect(trained.map((c) => c.verdict)).toEqual(["under", "under"])
    // The pictures moved away from the base one, only not towards the character.
    for (const c of trained) {
      expect(c.effect).toBeGreaterThan(defaultDiagnosisThresholds.noEffectDistance)
      expect(c.trainingGain).toBeLessThan(defaultDiagnosisThresholds.noTrainingGain)
    }
    expect(under.recommendation?.good).toBe(false)
    expect(under.remedies).toEqual(underFitRemedies)
  })

  it("follows the tuned run: nothing at epoch 2, the character from epoch 8", () => {
    expect(tuned.cells.map((c) => c.verdict)).toEqual(["base", "under", "good", "good"])
    expect(tuned.cells[2]!.trainingGain).toBeGreaterThan(defaultDiagnosisThresholds.noTrainingGain)
    expect(tuned.cells.every((c) => !c.memorised)).toBe(true)
    expect(tuned.recommendation).toMatchObject({ good: true })
  })

  it("calls the fried run broken: its latent noise is rough on 2×2 blocks, the pictures are not", () => {
    expect(fried.cells[1]).toMatchObject({ verdict: "broken", broken: "noise" })
    expect(fried.remedies).toEqual(overFitRemedies)
    const pictures = [...under.cells, ...tuned.cells].map((c) => c.stats.roughness)
    expect(Math.max(...pictures)).toBeLessThan(defaultDiagnosisThresholds.noiseRoughness)
    expect(fried.cells[1]!.stats.roughness).toBeGreaterThanOrEqual(defaultDiagnosisThresholds.noiseRoughness)
  })
})
