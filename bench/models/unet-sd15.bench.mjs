// The full-size SD1.5 UNet (859,520,964 parameters), forward at 64×64 latents, batch 1, random weights, on
// ONNX Runtime's CPU provider: seconds per forward, achieved GFLOP/s (FLOPs counted from the graph's
// matmuls and convolutions), and the process's peak resident memory.
// Run: npm run build && node bench/models/unet-sd15.bench.mjs   (BENCH_ROUNDS=2 timed runs after a warm-up)
import { cpus } from "node:os"
import { createOnnxBackend } from "@danlu/backend-onnx"
import { lowerComposites, sd15UNet, T, topologicalOrder, unet, unetPrefix, WeightScope } from "@danlu/core"
import { writeReport } from "../lib/report.mjs"

const rounds = Number(process.env.BENCH_ROUNDS ?? 2)
const size = (shape) => shape.reduce((a, b) => a * b, 1)

const scope = WeightScope.root()
const x = T.input("x", [1, 4, 64, 64])
const timesteps = T.input("t", [1])
const context = T.input("context", [1, 77, 768])
const eps = unet(scope.at(unetPrefix), sd15UNet, { x, timesteps, context })
const manifest = [...scope.manifest().values()]
const parameters = manifest.reduce((n, e) => n + size(e.shape), 0)

/** Multiply-adds × 2 of every matmul and convolution (attention included, as its matmuls): the work a forward must do. */
const countFlops = (output) => {
  let flops = 0
  for (const node of topologicalOrder([lowerComposites({ outputs: { eps: output } }).outputs.eps])) {
    if (node.op === "matmul") flops += 2 * size(node.shape) * node.inputs[0].shape.at(-1)
    if (node.op === "conv2d") flops += 2 * size(node.shape) * size(node.inputs[1].shape.slice(1))
  }
  return flops
}
const flops = countFlops(eps)

/** Small uniform weights from an LCG: the values don't matter for speed, only that they are finite. */
const weightData = (n, seed) => {
  const data = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    data[i] = (s / 2 ** 32 - 0.5) * 0.02
  }
  return data
}

const backend = await createOnnxBackend({ intraOpThreads: cpus().length })
try {
  const states = {}
  for (const [i, entry] of manifest.entries()) {
    states[entry.key] = await backend.upload({
      dtype: "f32",
      shape: entry.shape,
      data: weightData(size(entry.shape), i + 1),
    })
  }
  const compileStart = performance.now()
  const program = await backend.compile({ outputs: { eps } })
  const compileMs = performance.now() - compileStart
  const inputs = {
    x: { dtype: "f32", shape: [1, 4, 64, 64], data: weightData(4 * 64 * 64, 7).map((v) => v * 50) },
    t: { dtype: "f32", shape: [1], data: Float32Array.of(500) },
    context: { dtype: "f32", shape: [1, 77, 768], data: weightData(77 * 768, 9).map((v) => v * 50) },
  }
  const time = async () => {
    const start = performance.now()
    const out = await program.run(inputs, states)
    const seconds = (performance.now() - start) / 1000
    if (!out.eps.data.every(Number.isFinite)) throw new Error("the UNet produced non-finite values")
    return seconds
  }
  const firstSeconds = await time()
  const timed = []
  for (let r = 0; r < rounds; r++) timed.push(await time())
  timed.sort((a, b) => a - b)
  const seconds = timed[Math.floor(timed.length / 2)]
  const peakGiB = process.resourceUsage().maxRSS / 2 ** 20
  await writeReport(
    "unet-sd15",
    "Full-size SD1.5 UNet forward on ONNX Runtime (CPU)",
    `Batch 1, 64×64 latents, context 77×768, f32 weights (random), ${parameters.toLocaleString("en")} parameters, ${(flops / 1e12).toFixed(3)} TFLOP counted from the graph's matmuls and convolutions. Compile ${(compileMs / 1000).toFixed(1)} s; first run ${firstSeconds.toFixed(1)} s; then the median of ${rounds}.`,
    [
      ["what", "what"],
      ["seconds", "s / forward"],
      ["gflops", "GFLOP/s"],
      ["peak", "peak RSS"],
    ],
    [
      {
        what: "SD1.5 UNet forward, ONNX Runtime CPU, whole graph",
        seconds: seconds.toFixed(1),
        gflops: (flops / seconds / 1e9).toFixed(1),
        peak: `${peakGiB.toFixed(1)} GiB`,
      },
    ],
  )
} finally {
  await backend.close()
}
