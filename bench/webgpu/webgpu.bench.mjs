// WebGPU backend throughput: matmul and conv2d GFLOP/s at SD-like shapes, and the per-dispatch overhead
// of a compiled program. Runs on whatever adapter Dawn finds (lavapipe on a machine without a GPU).
// Run: npm run build -w @danlu/core -w @danlu/backend-webgpu && node bench/webgpu/webgpu.bench.mjs [--quick]
// (Linux: XDG_RUNTIME_DIR must name a writable folder.)

import { createWebGpuBackend } from "@danlu/backend-webgpu"
import { T, toF16Bits } from "@danlu/core"
import { medianMs, writeReport } from "../lib/report.mjs"

const quick = process.argv.includes("--quick")
const rounds = quick ? 1 : 3

const backend = await createWebGpuBackend()
const info = await backend.describe()
const device = `${info.devices[0]?.name} (${info.devices[0]?.detail})`

const random = (shape, dtype) => {
  const n = shape.reduce((a, b) => a * b, 1)
  const values = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5)
  return dtype === "f16"
    ? { dtype, shape, data: Uint16Array.from(values, toF16Bits) }
    : { dtype, shape, data: values }
}

const rows = []

/** Times a one-op program whose inputs already sit on the device and whose output is reduced to a scalar. */
const measure = async (what, dtype, flops, build, shapes) => {
  const inputs = shapes.map((shape, i) => T.input(`x${i}`, shape, dtype))
  const program = await backend.compile({ outputs: { y: T.sum(build(inputs)) } })
  const feeds = Object.fromEntries(
    await Promise.all(shapes.map(async (shape, i) => [`x${i}`, await backend.upload(random(shape, dtype))])),
  )
  const ms = await medianMs(rounds, () => program.run(feeds))
  rows.push({ what, dtype, ms: ms.toFixed(1), gflops: (flops / ms / 1e6).toFixed(2) })
  await program.release()
}

const matmuls = quick
  ? [[1024, 320, 320]]
  : [
      [4096, 320, 320], // SD1.5 64² latents: q/k/v/out projections of the first transformer block
      [1024, 640, 640], // the 32² level
      [4096, 320, 1280], // GEGLU's first half at 64²
    ]
const convs = quick
  ? [[1, 64, 32, 32, 64, 3]]
  : [
      [1, 320, 32, 32, 320, 3], // a 3×3 conv of the first level, at 32² instead of 64² to keep lavapipe in minutes
      [1, 640, 16, 16, 640, 3],
      [1, 320, 32, 32, 320, 1], // 1×1 projection
    ]

for (const dtype of ["f32", "f16"]) {
  for (const [m, k, n] of matmuls) {
    await measure(`matmul ${m}×${k} · ${k}×${n}`, dtype, 2 * m * k * n, ([a, b]) => T.matmul(a, b), [
      [m, k],
      [k, n],
    ])
  }
  for (const [batch, c, h, w, o, kernel] of convs) {
    const pad = (kernel - 1) / 2
    await measure(
      `conv2d [${batch},${c},${h},${w}] * [${o},${c},${kernel},${kernel}]`,
      dtype,
      2 * batch * o * h * w * c * kernel * kernel,
      ([x, weight]) => T.conv2d(x, weight, { padding: pad }),
      [
        [batch, c, h, w],
        [o, c, kernel, kernel],
      ],
    )
  }
}

// Per-dispatch overhead: a chain of tiny adds compiled into one program (one dispatch each, one
// command buffer per run), against a one-dispatch program's fixed cost of submit and read-back.
const chainLength = quick ? 200 : 2000
const x = T.input("x", [4], "f32")
let chain = x
for (let i = 0; i < chainLength; i++) chain = T.add(chain, 0.001)
const long = await backend.compile({ outputs: { y: chain } })
const short = await backend.compile({ outputs: { y: T.add(x, 0.001) } })
const feed = { x: random([4], "f32") }
const longMs = await medianMs(rounds * 3, () => long.run(feed))
const shortMs = await medianMs(rounds * 3, () => short.run(feed))
rows.push({
  what: `dispatch overhead: ${chainLength} adds on [4], µs per dispatch`,
  dtype: "f32",
  ms: longMs.toFixed(1),
  gflops: `${(((longMs - shortMs) * 1000) / (chainLength - 1)).toFixed(1)} µs`,
})
rows.push({
  what: "fixed cost of one run (1 dispatch, submit, read back 16 bytes)",
  dtype: "f32",
  ms: shortMs.toFixed(2),
  gflops: "",
})
await backend.close()

await writeReport(
  quick ? "webgpu-quick" : "webgpu",
  "WebGPU backend: matmul and conv2d throughput, dispatch overhead",
  [
    `Device: ${device}.`,
    "One-op programs (inputs uploaded once, output summed on the device so only 4 bytes come back);",
    `median of ${rounds} runs after a warm-up, so pipeline compilation is excluded. GFLOP/s counts 2·M·N·K`,
    "(matmul) and 2·N·O·H·W·C·k² (conv2d, stride 1, same padding). f16 stores 16-bit values and computes in f32.",
  ].join("\n"),
  [
    ["what", "what"],
    ["dtype", "dtype"],
    ["ms", "ms per run"],
    ["gflops", "GFLOP/s"],
  ],
  rows,
)
