import { describe, expect, it } from "vitest"
import {
  brokenReason,
  type CellMeasures,
  createRng,
  defaultDiagnosisThresholds,
  diagnoseGrid,
  formatGridVerdict,
  type ImageEmbedder,
  imageSignature,
  imageStats,
  judgeGrid,
  overFitRemedies,
  type RawImage,
  structuralDistance,
  underFitRemedies,
  verdictLabel,
} from "../src/index.js"
import { gradient } from "./fixtures.js"

const rawOf = async (pipeline: ReturnType<typeof gradient>): Promise<RawImage> => {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true })
  return { width: info.width, height: info.height, channels: 3, data: new Uint8Array(data) }
}

const filled = (
  side: number,
  pixel: (x: number, y: number) => readonly [number, number, number],
): RawImage => {
  const data = new Uint8Array(side * side * 3)
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) data.set(pixel(x, y), (y * side + x) * 3)
  return { width: side, height: side, channels: 3, data }
}

/** (1 − t)·a + t·b, pixel by pixel. */
const blend = (a: RawImage, b: RawImage, t: number): RawImage => ({
  ...a,
  data: Uint8Array.from(a.data, (v, i) => Math.round((1 - t) * v + t * b.data[i]!)),
})

const noise = (side: number, seed: number): RawImage => {
  const rng = createRng(seed)
  return filled(side, () => [rng.nextInt(256), rng.nextInt(256), rng.nextInt(256)])
}

describe("broken images", () => {
  it("measures a checkerboard as the arithmetic says", () => {
    // 64 px → 2×2 blocks → a 32×32 board of 4×4 squares: 7 of 31 neighbour pairs per line differ by 255.
    const board = filled(64, (x, y) =>
      (Math.floor(x / 8) + Math.floor(y / 8)) % 2 === 0 ? [0, 0, 0] : [255, 255, 255],
    )
    const stats = imageStats(board)
    expect(stats.meanLuma).toBeCloseTo(127.5, 6)
    expect(stats.lumaStd).toBeCloseTo(127.5, 6)
    expect(stats.roughness).toBeCloseTo(((7 / 31) * 255 ** 2) / (2 * 127.5 ** 2), 9)
    expect(stats.clippedColour).toBe(0)
  })

  it("tells black, blank, burnt, noise and NaN samples from pictures", async () => {
    expect(brokenReason(imageStats(filled(64, () => [0, 0, 0])))).toBe("black")
    expect(brokenReason(imageStats(filled(64, () => [3, 5, 2])))).toBe("black")
    expect(brokenReason(imageStats(filled(64, () => [128, 128, 128])))).toBe("blank")
    const burnt = filled(64, (x) => (x < 40 ? [255, 0, 0] : [255, 255, 0]))
    expect(imageStats(burnt).clippedColour).toBe(1)
    expect(brokenReason(imageStats(burnt))).toBe("saturated")
    const uniformNoise = imageStats(noise(256, 7))
    expect(uniformNoise.roughness).toBeGreaterThan(0.9)
    expect(brokenReason(uniformNoise)).toBe("noise")
    const picture = imageStats(await rawOf(gradient(256, 256, 3)))
    expect(picture.roughness).toBeLessThan(0.1)
    expect(brokenReason(picture)).toBeUndefined()
    expect(brokenReason(picture, true)).toBe("non-finite")
  })
})

/** Straight-from-the-definition SSIM over 7×7 windows, for 128×128 YCbCr planes and their 2×2 means. */
const referenceDistance = (a: RawImage, b: RawImage): number => {
  const planes = (image: RawImage) => {
    const out = [0, 1, 2].map(() => new Float64Array(128 * 128))
    for (let i = 0; i < 128 * 128; i++) {
      const [r, g, bl] = [image.data[i * 3]!, image.data[i * 3 + 1]!, image.data[i * 3 + 2]!]
      out[0]![i] = 0.299 * r + 0.587 * g + 0.114 * bl
      out[1]![i] = 128 - 0.168736 * r - 0.331264 * g + 0.5 * bl
      out[2]![i] = 128 + 0.5 * r - 0.418688 * g - 0.081312 * bl
    }
    return out
  }
  const down = (p: Float64Array, side: number) => {
    const h = side / 2
    return Float64Array.from({ length: h * h }, (_, i) => {
      const [x, y] = [i % h, Math.floor(i / h)]
      return (
        (p[2 * y * side + 2 * x]! +
          p[2 * y * side + 2 * x + 1]! +
          p[(2 * y + 1) * side + 2 * x]! +
          p[(2 * y + 1) * side + 2 * x + 1]!) /
        4
      )
    })
  }
  const ssim = (p: Float64Array, q: Float64Array, side: number) => {
    const [c1, c2] = [(0.01 * 255) ** 2, (0.03 * 255) ** 2]
    let total = 0
    let count = 0
    for (let y = 0; y + 7 <= side; y++) {
      for (let x = 0; x + 7 <= side; x++) {
        const u: number[] = []
        const v: number[] = []
        for (let dy = 0; dy < 7; dy++)
          for (let dx = 0; dx < 7; dx++) {
            u.push(p[(y + dy) * side + x + dx]!)
            v.push(q[(y + dy) * side + x + dx]!)
          }
        const mu = u.reduce((s, t) => s + t, 0) / 49
        const mv = v.reduce((s, t) => s + t, 0) / 49
        const vu = u.reduce((s, t) => s + (t - mu) ** 2, 0) / 49
        const vv = v.reduce((s, t) => s + (t - mv) ** 2, 0) / 49
        const cov = u.reduce((s, t, k) => s + (t - mu) * (v[k]! - mv), 0) / 49
        total += ((2 * mu * mv + c1) * (2 * cov + c2)) / ((mu * mu + mv * mv + c1) * (vu + vv + c2))
        count++
      }
    }
    return total / count
  }
  let pa = planes(a)
  let pb = planes(b)
  let similarity = 0
  for (let s = 0, side = 128; s < 3; s++, side /= 2) {
    for (let c = 0; c < 3; c++) similarity += ([0.8, 0.1, 0.1][c]! * ssim(pa[c]!, pb[c]!, side)) / 3
    pa = pa.map((p) => down(p, side))
    pb = pb.map((p) => down(p, side))
  }
  return Math.min(1, Math.max(0, 1 - similarity))
}

describe("structural distance", () => {
  it("matches SSIM computed window by window, is 0 for the same image and grows with a blend", async () => {
    const a = await rawOf(gradient(128, 128, 1))
    const b = await rawOf(gradient(128, 128, 2))
    const [sa, sb] = [imageSignature(a), imageSignature(b)]
    expect(structuralDistance(sa, sb)).toBeCloseTo(referenceDistance(a, b), 9)
    expect(structuralDistance(sa, sa)).toBe(0)
    const blend = (t: number): RawImage => ({
      ...a,
      data: a.data.map((v, i) => Math.round((1 - t) * v + t * b.data[i]!)),
    })
    const distances = [0.1, 0.3, 0.6].map((t) => structuralDistance(sa, imageSignature(blend(t))))
    expect(distances[0]).toBeGreaterThan(0)
    expect(distances[1]).toBeGreaterThan(distances[0]!)
    expect(distances[2]).toBeGreaterThan(distances[1]!)
    expect(structuralDistance(sa, sb)).toBeGreaterThan(distances[2]!)
  })

  it("compares images of other sizes through the same 128 px thumbnail", async () => {
    const big = await rawOf(gradient(384, 256, 4))
    const small = await rawOf(gradient(384, 256, 4).resize(192, 128))
    expect(structuralDistance(imageSignature(big), imageSignature(small))).toBeLessThan(0.02)
  })
})

describe("diagnoseGrid on made-up cells", async () => {
  const training = await Promise.all(
    [10, 11, 12].map(async (seed) => ({
      id: `10_cat/${seed}.png`,
      image: await rawOf(gradient(128, 128, seed)),
    })),
  )
  const base = await rawOf(gradient(128, 128, 1))
  const other = await rawOf(gradient(128, 128, 2))
  // Moved from the base picture towards a training image, not all the way: the concept showing.
  const learning = blend(base, training[1]!.image, 0.4)
  const cells = [
    { epoch: 2, weight: 0, variant: "seed 1", image: base },
    { epoch: 2, weight: 0.5, variant: "seed 1", image: base },
    { epoch: 4, weight: 0.5, variant: "seed 1", image: learning },
    { epoch: 4, weight: 1, variant: "seed 1", image: other },
    { epoch: 6, weight: 0.5, variant: "seed 1", image: training[0]!.image },
    { epoch: 8, weight: 0.5, variant: "seed 1", image: noise(128, 3) },
    { epoch: 8, weight: 1, variant: "seed 1", image: filled(128, () => [0, 0, 0]) },
  ]
  const diagnosis = await diagnoseGrid(cells, { training })

  it("judges each cell", () => {
    expect(diagnosis.cells.map((c) => c.verdict)).toEqual([
      "base",
      "under",
      "good",
      "under",
      "over",
      "broken",
      "broken",
    ])
    expect(diagnosis.cells.map((c) => c.broken)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      "noise",
      "black",
    ])
    expect(diagnosis.cells[1]!.effect).toBe(0)
    expect(diagnosis.cells[2]!.effect).toBeGreaterThan(defaultDiagnosisThresholds.noEffectDistance)
    expect(diagnosis.cells[3]!.effect).toBeGreaterThan(defaultDiagnosisThresholds.noEffectDistance)
    expect(diagnosis.cells[4]!.nearest).toEqual({ id: "10_cat/10.png", distance: 0 })
    expect(diagnosis.cells[4]!.memorised).toBe(true)
    expect(diagnosis.cells[2]!.memorised).toBe(false)
    expect(diagnosis.memorisationMeasure).toBe("structural")
    expect(diagnosis.cells.map(verdictLabel)).toEqual([
      "base",
      "under 0.00",
      `good ${diagnosis.cells[2]!.effect!.toFixed(2)}`,
      `under ${diagnosis.cells[3]!.effect!.toFixed(2)}`,
      "over: copy",
      "broken: noise",
      "broken: black",
    ])
  })

  it("measures how much nearer the training images each cell is than the base picture", () => {
    const signature = (image: RawImage) => imageSignature(image)
    const nearestDistance = (image: RawImage) =>
      Math.min(...training.map((t) => structuralDistance(signature(image), signature(t.image))))
    const gain = (image: RawImage) => 1 - nearestDistance(image) / nearestDistance(base)
    expect(diagnosis.cells[0]!.trainingGain).toBeUndefined()
    expect(diagnosis.cells[1]!.trainingGain).toBeCloseTo(0, 12)
    // The blend is the concept showing, the unrelated picture a change that is not the concept.
    expect(diagnosis.cells[2]!.trainingGain).toBeCloseTo(gain(learning), 12)
    expect(diagnosis.cells[2]!.trainingGain).toBeGreaterThan(defaultDiagnosisThresholds.noTrainingGain)
    expect(diagnosis.cells[3]!.trainingGain).toBeCloseTo(gain(other), 12)
    expect(diagnosis.cells[3]!.trainingGain).toBeLessThan(defaultDiagnosisThresholds.noTrainingGain)
    expect(diagnosis.cells[5]!.trainingGain).toBeUndefined()
  })

  it("judges each epoch and weight and recommends the good one", () => {
    expect(diagnosis.settings.map((s) => [s.epoch, s.weight, s.verdict])).toEqual([
      [2, 0.5, "under"],
      [4, 0.5, "good"],
      [4, 1, "under"],
      [6, 0.5, "over"],
      [8, 0.5, "broken"],
      [8, 1, "broken"],
    ])
    expect(diagnosis.recommendation).toMatchObject({ epoch: 4, weight: 0.5, good: true })
    expect(diagnosis.remedies).toEqual([])
  })

  it("uses a user-supplied embedder for memorisation when given one", async () => {
    const seen: number[] = []
    const embedder: ImageEmbedder = {
      name: "fake-dino.onnx",
      copyDistance: 0.01,
      embed: async (images) => {
        seen.push(images.length)
        return images.map((image) => Float32Array.from(image.data.subarray(0, 64), (v) => v + 1))
      },
    }
    const result = await diagnoseGrid(cells.slice(0, 5), { training, embedder })
    expect(seen).toEqual([8])
    expect(result.memorisationMeasure).toBe("fake-dino.onnx")
    expect(result.cells[4]!.nearest).toEqual({ id: "10_cat/10.png", distance: expect.closeTo(0, 6) })
    expect(result.cells.map((c) => c.memorised)).toEqual([false, false, false, false, true])
    // The training gain is calibrated on the structural distance only.
    expect(result.cells.every((c) => c.trainingGain === undefined)).toBe(true)
  })
})

describe("judgeGrid", () => {
  const cell = (epoch: number, weight: number, over: Partial<CellMeasures> = {}): CellMeasures => ({
    epoch,
    weight,
    variant: "v",
    memorised: false,
    effect: 0.2,
    ...over,
  })

  it("recommends the epoch good at most weights, at the middle of its good weights", () => {
    const verdict = judgeGrid([
      cell(2, 0.3, { effect: 0.01 }),
      cell(2, 0.6),
      cell(2, 0.8, { memorised: true }),
      cell(4, 0.3),
      cell(4, 0.6),
      cell(4, 0.8),
      cell(6, 0.3),
      cell(6, 0.6, { broken: "saturated" }),
      cell(6, 0.8, { broken: "noise" }),
    ])
    expect(verdict.recommendation).toMatchObject({ epoch: 4, weight: 0.6, good: true })
    expect(
      verdict.settings.filter((s) => s.verdict !== "good").map((s) => [s.epoch, s.weight, s.verdict]),
    ).toEqual([
      [2, 0.3, "under"],
      [2, 0.8, "over"],
      [6, 0.6, "broken"],
      [6, 0.8, "broken"],
    ])
  })

  it("without a validation loss, prefers the epoch where the LoRA shows most among equally good ones", () => {
    const cells = [
      cell(2, 0.5, { effect: 0.05 }),
      cell(2, 1),
      cell(8, 0.5, { effect: 0.3 }),
      cell(8, 1, { effect: 0.4 }),
    ]
    expect(judgeGrid(cells).recommendation).toMatchObject({ epoch: 8, good: true })
  })

  it("breaks ties by validation loss, and steers away from epochs where it has risen", () => {
    const cells = [cell(6, 0.6), cell(6, 0.8), cell(8, 0.6), cell(8, 0.8)]
    expect(judgeGrid(cells).recommendation?.epoch).toBe(6)
    const falling = judgeGrid(cells, {
      validationLoss: [
        { epoch: 6, loss: 0.12 },
        { epoch: 8, loss: 0.11 },
      ],
    })
    expect(falling.recommendation?.epoch).toBe(8)
    expect(falling.notes).toEqual([
      "validation loss is still falling at the last epoch (8): more epochs may help",
    ])
    const rising = judgeGrid([...cells, cell(4, 0.3)], {
      validationLoss: [
        { epoch: 4, loss: 0.1 },
        { epoch: 6, loss: 0.104 },
        { epoch: 8, loss: 0.12 },
      ],
    })
    expect(rising.recommendation?.epoch).toBe(6)
    expect(rising.notes[0]).toBe(
      "validation loss is lowest at epoch 4 and 20% higher by epoch 8: later epochs are over-fitting",
    )
  })

  it("prints a table of epochs by weights with the recommendation", () => {
    const verdict = judgeGrid([
      cell(2, 0.3, { effect: 0.01 }),
      cell(2, 0.8),
      cell(4, 0.3),
      cell(4, 0.8, { memorised: true }),
    ])
    expect(formatGridVerdict(verdict)).toBe(
      [
        "epoch  w 0.3        w 0.8",
        "2      under 0.01   good 0.20",
        "4      good 0.20    over 0.20",
        "",
        "recommended: epoch 2 at weight 0.8 — epoch 2 is good at weight 0.8",
      ].join("\n"),
    )
    const under = judgeGrid([cell(2, 0.3, { effect: 0.001 })])
    expect(formatGridVerdict(under)).toContain(
      "remedies: raise the learning rate (增大学习率); train more epochs (增加轮数); add more training images (扩充数据集)",
    )
  })

  it("gives the guide's under-fit remedies when nothing shows an effect", () => {
    const verdict = judgeGrid([
      cell(2, 0.3, { effect: 0.001 }),
      cell(2, 0.8, { effect: 0.01 }),
      cell(4, 0.8, { effect: 0.02 }),
    ])
    expect(verdict.recommendation).toMatchObject({ epoch: 4, weight: 0.8, good: false })
    expect(verdict.remedies).toBe(underFitRemedies)
    expect(verdict.remedies.map((r) => r.zh)).toEqual(["增大学习率", "增加轮数", "扩充数据集"])
  })

  it("gives the guide's over-fit remedies when most settings copy or break", () => {
    const verdict = judgeGrid([
      cell(2, 0.3, { memorised: true }),
      cell(2, 0.8, { broken: "saturated" }),
      cell(4, 0.3, { memorised: true }),
      cell(4, 0.8, { broken: "noise" }),
    ])
    expect(verdict.recommendation).toMatchObject({ epoch: 2, weight: 0.3, good: false })
    expect(verdict.remedies).toBe(overFitRemedies)
    expect(verdict.remedies.map((r) => r.zh)).toEqual([
      "降低学习率",
      "减少轮数",
      "提高 Alpha 值",
      "增强数据多样性",
    ])
  })

  it("blames the sampler, not the LoRA, when the base image itself is broken", () => {
    const verdict = judgeGrid([cell(2, 0, { broken: "black", variant: "seed 7" }), cell(2, 0.5)])
    expect(verdict.notes).toEqual([
      "the base model alone (weight 0) gives broken images for seed 7: check the sampler settings, not the LoRA",
    ])
  })
})
