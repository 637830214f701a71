// Auto-tagging throughput on CPU, split into preprocessing (decode, white padding, bicubic resize, BGR
// float) and inference (ONNX Runtime), for the tiny test model and for a model with the compute of a
// real WD v3 tagger at 448² (see vitCostModel.mjs).
// Run: npm run build -w @danlu/dataset -w @danlu/tagger && node bench/tagger/tagger.bench.mjs
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { openWd14Tagger, readWd14Input, tagFolder } from "@danlu/tagger"
import { buildTinyWd14Model, selectedTagsCsv } from "@danlu/tagger/testing"
import { Effect } from "effect"
import ort from "onnxruntime-node"
import sharp from "sharp"
import { makeJpeg } from "../lib/images.mjs"
import { buildVitCostModel, macsPerImage, vitB16 } from "./vitCostModel.mjs"

// This script makes its own sessions; like danlu's loaders, it keeps ONNX Runtime's telemetry off unless asked.
process.env.ORT_DISABLE_TELEMETRY ??= "1"

const images = 24
const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "results")

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const seconds = async (work) => {
  const start = process.hrtime.bigint()
  await work()
  return Number(process.hrtime.bigint() - start) / 1e9
}

/** Median images/s over `rounds` runs of `work`, which handles `count` images. */
const throughput = async (count, rounds, work) => {
  const times = []
  for (let r = 0; r < rounds; r++) times.push(await seconds(work))
  return count / median(times)
}

const tagRows = (count) =>
  Array.from({ length: count }, (_, i) => ({
    name: `tag_${i}`,
    category: i < 4 ? 9 : i < count - 500 ? 0 : 4,
  }))

// Other processes on the machine skew the numbers; the load average at the start is recorded with them.
const loadAtStart = loadavg()[0]
const dir = await mkdtemp(join(tmpdir(), "danlu-tagger-bench-"))
try {
  const photos = join(dir, "photos")
  await mkdir(photos)
  const paths = []
  for (let i = 0; i < images; i++) {
    const path = join(photos, `${String(i).padStart(3, "0")}.jpg`)
    await writeFile(path, await makeJpeg(i, 768, 1024))
    paths.push(path)
  }

  // Preprocessing alone: one image after another, then two at a time as `tagFolder` does.
  const preprocess = async (size, concurrency) =>
    throughput(images, 3, () =>
      Effect.runPromise(Effect.forEach(paths, (path) => readWd14Input(path, size), { concurrency })),
    )
  const preprocessing = {
    "448, sequential": await preprocess(448, 1),
    "448, 2 at a time": await preprocess(448, 2),
    "8 (tiny), sequential": await preprocess(8, 1),
  }

  // Inference alone, on prepared inputs.
  const inferenceOf = async (modelPath, tagCount, size, batch, rounds) => {
    const csv = join(dir, `tags-${tagCount}.csv`)
    await writeFile(csv, selectedTagsCsv(tagRows(tagCount)))
    const inputs = await Effect.runPromise(
      Effect.forEach(paths.slice(0, batch), (p) => readWd14Input(p, size)),
    )
    return Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const tagger = yield* openWd14Tagger({ model: modelPath, tags: csv })
          yield* tagger.predict(inputs) // warm-up: ONNX Runtime plans memory on the first run
          return yield* Effect.promise(() =>
            throughput(batch, rounds, () => Effect.runPromise(tagger.predict(inputs))),
          )
        }),
      ),
    )
  }

  const tinyPath = join(dir, "tiny.onnx")
  const tiny = buildTinyWd14Model({ size: 8, tags: 64 })
  await writeFile(tinyPath, tiny.bytes)
  const vitPath = join(dir, "vit.onnx")
  const vitBytes = buildVitCostModel(vitB16)
  await writeFile(vitPath, vitBytes)

  const inference = {
    "tiny (8², 64 tags), batch 1": await inferenceOf(tinyPath, 64, 8, 1, 101),
    "tiny (8², 64 tags), batch 16": await inferenceOf(tinyPath, 64, 8, 16, 101),
    "ViT-B/16 cost (448², 10,861 tags), batch 1": await inferenceOf(vitPath, vitB16.tags, 448, 1, 7),
    "ViT-B/16 cost (448², 10,861 tags), batch 4": await inferenceOf(vitPath, vitB16.tags, 448, 4, 5),
  }

  // The whole command on the tiny model: listing, preprocessing, inference, caption writes, backup.
  const tinyCsv = join(dir, "tags-64.csv")
  const endToEnd = await throughput(images, 3, () =>
    Effect.runPromise(
      tagFolder({ folder: photos, model: tinyPath, tags: tinyCsv, existing: "overwrite", batchSize: 8 }),
    ),
  )

  const gmacs = macsPerImage(vitB16) / 1e9
  const result = {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpus()[0]?.model.trim()}, ${cpus().length} cores, Node ${process.version}, onnxruntime-node ${ort.env.versions.common}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})`,
    images: `${images} JPEGs 768×1024`,
    loadAverageAtStart: loadAtStart,
    vitModel: { ...vitB16, gmacsPerImage: gmacs, megabytes: vitBytes.byteLength / 1e6 },
    imagesPerSecond: { preprocessing, inference, endToEndTinyModel: endToEnd },
  }
  const fmt = (n) => n.toFixed(n >= 100 ? 0 : n >= 1 ? 1 : 3)
  const rows = (table) =>
    Object.entries(table).map(([name, ips]) => `| ${name} | ${fmt(ips)} | ${fmt(1000 / ips)} |`)
  const vit448 = inference["ViT-B/16 cost (448², 10,861 tags), batch 4"]
  const pre448 = preprocessing["448, 2 at a time"]
  const markdown = [
    `# tagger throughput on CPU (${result.date})`,
    "",
    `${result.images}; medians. Machine: ${result.machine}; load average ${loadAtStart.toFixed(1)} at the start.`,
    `ViT-B/16-cost model: ${gmacs.toFixed(1)} GMAC per image, ${(vitBytes.byteLength / 1e6).toFixed(0)} MB of float32 weights (seeded noise).`,
    "",
    "## Preprocessing (decode, white pad to square, bicubic resize, BGR float32)",
    "",
    "| target size | images/s | ms/image |",
    "|---|---:|---:|",
    ...rows(preprocessing),
    "",
    "## Inference (ONNX Runtime, CPU execution provider)",
    "",
    "| model | images/s | ms/image |",
    "|---|---:|---:|",
    ...rows(inference),
    "",
    "## Whole `tagFolder` run, tiny model (overwrite, batch 8)",
    "",
    `${fmt(endToEnd)} images/s.`,
    "",
    `At 448² with a real-size model, inference takes ${fmt((1 / vit448) * 1000)} ms per image against ` +
      `${fmt((1 / pre448) * 1000)} ms of preprocessing: the model is ${fmt(pre448 / vit448)}× the cost, so a folder of ` +
      `1,000 images takes about ${fmt(1000 / vit448 / 60)} minutes on this machine.`,
    "",
  ].join("\n")
  await mkdir(resultsDir, { recursive: true })
  await writeFile(join(resultsDir, "tagger.json"), `${JSON.stringify(result, null, 2)}\n`)
  await writeFile(join(resultsDir, "tagger.md"), markdown)
  console.log(markdown)
} finally {
  await rm(dir, { recursive: true, force: true })
}
