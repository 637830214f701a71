import { describe, expect, it } from "vitest"
import {
  balanceRegularization,
  bucketAssigner,
  createRng,
  cropOrigin,
  defaultBucketOptions,
  fixedSizeAssigner,
  makeBucketResolutions,
  planEpoch,
  stepsPerEpoch,
} from "../src/index.js"

const square512 = defaultBucketOptions({ width: 512, height: 512 })
const pairs = (sizes: ReadonlyArray<{ width: number; height: number }>) =>
  sizes.map((s) => [s.width, s.height])

describe("bucket resolutions (kohya make_bucket_resolutions)", () => {
  it("gives the 17 buckets of 512² with sides 256–1024, sorted by (width, height)", () => {
    expect(pairs(makeBucketResolutions(square512))).toEqual([
      [256, 832],
      [256, 896],
      [256, 960],
      [256, 1024],
      [320, 704],
      [320, 768],
      [384, 640],
      [448, 576],
      [512, 512],
      [576, 448],
      [640, 384],
      [704, 320],
      [768, 320],
      [832, 256],
      [896, 256],
      [960, 256],
      [1024, 256],
    ])
  })

  it("keeps every bucket within the area and on the 64-px grid", () => {
    const resolution = { width: 768, height: 512 }
    for (const b of makeBucketResolutions({
      ...defaultBucketOptions(resolution),
      minSide: 128,
      maxSide: 2048,
    })) {
      expect(b.width * b.height).toBeLessThanOrEqual(768 * 512)
      expect(b.width % 64).toBe(0)
      expect(b.height % 64).toBe(0)
      expect(Math.min(b.width, b.height)).toBeGreaterThanOrEqual(128)
    }
  })
})

describe("bucket assignment (kohya select_bucket)", () => {
  const assigner = bucketAssigner(square512)

  it("picks the nearest aspect and scales to cover: 1000×1500 → 384×640 via 427×640", () => {
    expect(assigner.assign({ width: 1000, height: 1500 })).toMatchObject({
      bucket: { width: 384, height: 640 },
      resized: { width: 427, height: 640 },
      upscaled: false,
    })
  })

  it("upscales a small 300×200 into 640×384 via 640×427", () => {
    const a = assigner.assign({ width: 300, height: 200 })
    expect(a).toMatchObject({
      bucket: { width: 640, height: 384 },
      resized: { width: 640, height: 427 },
      upscaled: true,
    })
    expect(a.aspectError).toBeCloseTo(640 / 384 - 1.5, 12)
  })

  it("keeps an image that is exactly a bucket", () => {
    expect(assigner.assign({ width: 768, height: 320 })).toMatchObject({
      bucket: { width: 768, height: 320 },
      resized: { width: 768, height: 320 },
    })
  })

  it("with noUpscale scales 2000×1000 down to 640×320 and leaves 300×200 at 256×192", () => {
    const noUpscale = bucketAssigner({ ...square512, noUpscale: true })
    expect(noUpscale.assign({ width: 2000, height: 1000 })).toMatchObject({
      bucket: { width: 640, height: 320 },
      resized: { width: 640, height: 320 },
    })
    expect(noUpscale.assign({ width: 300, height: 200 })).toMatchObject({
      bucket: { width: 256, height: 192 },
      resized: { width: 300, height: 200 },
      upscaled: false,
    })
  })

  it("covers a fixed size and crops from the centre, or at a seeded random offset", () => {
    const fixed = fixedSizeAssigner({ width: 512, height: 768 })
    const a = fixed.assign({ width: 1024, height: 1024 })
    expect(a).toMatchObject({ resized: { width: 768, height: 768 }, upscaled: false })
    expect(cropOrigin(a.resized, a.bucket)).toEqual({ left: 128, top: 0 })
    const random = cropOrigin(a.resized, a.bucket, createRng(7))
    expect(random).toEqual(cropOrigin(a.resized, a.bucket, createRng(7)))
    expect(random.left).toBeGreaterThanOrEqual(0)
    expect(random.left).toBeLessThanOrEqual(256)
    expect(cropOrigin({ width: 427, height: 640 }, { width: 384, height: 640 })).toEqual({ left: 21, top: 0 })
  })
})

describe("epoch plan", () => {
  const samples = [
    ...Array.from({ length: 5 }, (_, i) => ({
      item: `square${i}`,
      bucket: { width: 512, height: 512 },
      repeats: 3,
    })),
    ...Array.from({ length: 3 }, (_, i) => ({
      item: `tall${i}`,
      bucket: { width: 384, height: 640 },
      repeats: 2,
    })),
  ]

  it("draws batches within one bucket and registers each image `repeats` times", () => {
    const plan = planEpoch(samples, { batchSize: 2, seed: 1, epoch: 0 })
    for (const batch of plan) {
      const kind = batch.bucket.width === 512 ? "square" : "tall"
      for (const s of batch.samples) expect(s.item.startsWith(kind)).toBe(true)
    }
    const all = plan.flatMap((b) => b.samples.map((s) => s.item))
    expect(all.filter((i) => i === "square0")).toHaveLength(3)
    expect(all.filter((i) => i === "tall2")).toHaveLength(2)
    expect(plan).toHaveLength(Math.ceil(15 / 2) + Math.ceil(6 / 2))
    expect(stepsPerEpoch(samples, 2)).toBe(plan.length)
  })

  it("is the same for the same seed and epoch, and changes with either", () => {
    const order = (seed: number, epoch: number) =>
      planEpoch(samples, { batchSize: 2, seed, epoch, flip: true }).flatMap((b) =>
        b.samples.map((s) => `${s.item}:${s.flip}`),
      )
    expect(order(1, 0)).toEqual(order(1, 0))
    expect(order(1, 0)).not.toEqual(order(1, 1))
    expect(order(1, 0)).not.toEqual(order(2, 0))
  })

  it("flips about half the samples only when asked", () => {
    const many = [{ item: "x", bucket: { width: 512, height: 512 }, repeats: 1000 }]
    const flipped = planEpoch(many, { batchSize: 4, seed: 3, epoch: 0, flip: true })
      .flatMap((b) => b.samples)
      .filter((s) => s.flip).length
    expect(flipped).toBeGreaterThan(430)
    expect(flipped).toBeLessThan(570)
    expect(
      planEpoch(many, { batchSize: 4, seed: 3, epoch: 0 }).some((b) => b.samples.some((s) => s.flip)),
    ).toBe(false)
  })
})

describe("regularisation balance", () => {
  it("cycles regularisation images until they match the training samples", () => {
    const reg = [{ repeats: 1 }, { repeats: 1 }, { repeats: 1 }]
    expect(balanceRegularization(10, reg).map((r) => r.repeats)).toEqual([4, 3, 3])
    expect(
      balanceRegularization(
        5,
        Array.from({ length: 8 }, () => ({ repeats: 1 })),
      ).map((r) => r.repeats),
    ).toEqual([1, 1, 1, 1, 1, 0, 0, 0])
    expect(balanceRegularization(7, [{ repeats: 5 }, { repeats: 5 }]).map((r) => r.repeats)).toEqual([5, 5])
  })
})

describe("rng", () => {
  it("gives fixed numbers for a fixed key (the same on every machine)", () => {
    const rng = createRng(42, 0)
    const first = [rng.nextUint32(), rng.nextUint32(), rng.nextUint32()]
    expect(first).toEqual(FIRST_DRAWS)
    expect(createRng(42, 1).nextUint32()).not.toBe(first[0])
  })

  it("draws integers uniformly enough", () => {
    const rng = createRng(9)
    const counts = [0, 0, 0]
    for (let i = 0; i < 3000; i++) counts[rng.nextInt(3)]!++
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(120)
  })
})

/** Computed independently by a 20-line Python port of rng.ts (arbitrary-precision ints masked to 32 bits). */
const FIRST_DRAWS = [478817264, 996058404, 3458393874]
