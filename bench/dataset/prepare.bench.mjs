// Throughput of danlu's prepare step (decode + resize + crop of 1024² JPEGs to 512²) through
// @danlu/dataset's bounded pool, against a plain sequential sharp loop doing the same work.
// Run: npm run build -w @danlu/dataset && node bench/dataset/prepare.bench.mjs
import { loadavg } from "node:os"
import { fixedSizeAssigner, prepareImage, white } from "@danlu/dataset"
import { Effect } from "effect"
import sharp from "sharp"
import { makeJpeg } from "../lib/images.mjs"
import { writeReport } from "../lib/report.mjs"

const images = 48
const rounds = 7
const side = 1024
const target = { width: 512, height: 512 }

const transform = {
  assigner: fixedSizeAssigner(target),
  background: white,
  upscale: false,
  format: "jpeg",
  quality: 95,
}

/** The same work written directly against sharp, one image after another. */
const plainLoop = async (inputs) => {
  for (const input of inputs) {
    await sharp(input, { autoOrient: true })
      .toColourspace("srgb")
      .flatten({ background: white })
      .resize(target.width, target.height, { fit: "cover", kernel: "lanczos3" })
      .jpeg({ quality: 95, chromaSubsampling: "4:4:4" })
      .toBuffer()
  }
}

const pool = (concurrency) => (inputs) =>
  Effect.runPromise(
    Effect.forEach(inputs, (input) => Effect.promise(() => prepareImage(input, transform)), { concurrency }),
  )

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** Rounds interleave the variants, so drift in a shared machine's load hits all of them alike. */
const measureAll = async (variants, inputs) => {
  for (const [, run] of variants) await run(inputs.slice(0, 4))
  const rates = variants.map(() => [])
  for (let r = 0; r < rounds; r++) {
    for (const [v, [, run]] of variants.entries()) {
      const start = process.hrtime.bigint()
      await run(inputs)
      rates[v].push(inputs.length / (Number(process.hrtime.bigint() - start) / 1e9))
    }
  }
  return variants.map(([name], v) => ({ name, imagesPerSecond: median(rates[v]), rounds: rates[v] }))
}

const loadBefore = loadavg()[0]
const inputs = await Promise.all(Array.from({ length: images }, (_, i) => makeJpeg(i + 1, side, side)))
const variants = [
  ["plain sharp loop (sequential)", plainLoop],
  ["@danlu/dataset pool, concurrency 1", pool(1)],
  ["@danlu/dataset pool, concurrency 2", pool(2)],
  ["@danlu/dataset pool, concurrency 4", pool(4)],
]
const libvipsThreads = sharp.concurrency()
const results = await measureAll(variants, inputs)

const rows = results.map((r) => ({
  variant: r.name,
  imagesPerSecond: r.imagesPerSecond.toFixed(1),
  vsPlainLoop: `${((100 * r.imagesPerSecond) / results[0].imagesPerSecond).toFixed(0)} %`,
  rounds: r.rounds.map((rate) => rate.toFixed(1)).join(" "),
}))
await writeReport(
  "dataset-prepare",
  "dataset prepare throughput",
  [
    `${images} JPEGs of ${side}², decode + resize (Lanczos 3) + centre crop to 512² + JPEG encode; median of ${rounds} interleaved rounds.`,
    `sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips} with ${libvipsThreads} thread(s) per image; 1-minute load average ${loadBefore.toFixed(1)} before and ${loadavg()[0].toFixed(1)} after (the machine is shared).`,
  ].join(" "),
  [
    ["variant", "variant"],
    ["imagesPerSecond", "images/s"],
    ["vsPlainLoop", "vs plain loop"],
    ["rounds", "each round (images/s)"],
  ],
  rows,
)
