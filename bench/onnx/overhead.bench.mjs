// Per-node overhead of a compiled ONNX Runtime program on graphs of ≥ 10k tiny nodes: one run() of the
// whole graph divided by its node count. Target ≤ 5 µs per node.
// Run: npm run build -w @danlu/core -w @danlu/backend-onnx && node bench/onnx/overhead.bench.mjs

import { createOnnxBackend, lowerGraph } from "@danlu/backend-onnx"
import { grad, hostTensor, T } from "@danlu/core"
import { medianMs, writeReport } from "../lib/report.mjs"

const length = 12_000

/** A chain of tiny elementwise ops: the worst case for per-node overhead. */
const chain = () => {
  const x = T.input("x", [4])
  let t = x
  for (let i = 0; i < length / 2; i++) t = T.add(T.mul(t, 1.0001), 0.001)
  return { x, y: T.sum(t) }
}

const backend = await createOnnxBackend({ intraOpThreads: 1 })
const feeds = { x: hostTensor("f32", [4], Float32Array.of(1, 2, 3, 4)) }
const rows = []
const measure = async (what, graph) => {
  const onnxNodes = lowerGraph(graph, new Set()).nodeCount
  const compileStart = performance.now()
  const program = await backend.compile(graph)
  const compileMs = performance.now() - compileStart
  const runMs = await medianMs(21, () => program.run(feeds))
  const emptyGraph = await backend.compile({ outputs: { y: T.add(T.input("x", [4]), 1) } })
  const fixedMs = await medianMs(21, () => emptyGraph.run(feeds))
  rows.push({
    what,
    onnxNodes,
    compileMs: compileMs.toFixed(0),
    runMs: runMs.toFixed(2),
    perNodeUs: ((runMs * 1000) / onnxNodes).toFixed(2),
    perNodeNetUs: (((runMs - fixedMs) * 1000) / onnxNodes).toFixed(2),
  })
  await program.release()
  await emptyGraph.release()
}

const forward = chain()
await measure("forward chain (mul, add on [4])", { outputs: { y: forward.y } })
const [gx] = grad(forward.y, [forward.x])
await measure("forward + backward chain", { outputs: { y: forward.y, gx } })
await backend.close()

await writeReport(
  "onnx-overhead",
  "ONNX Runtime backend: per-node overhead",
  [
    `A chain of ${length} tiny elementwise core nodes ([4] f32) compiled to one ONNX model and one`,
    "InferenceSession (CPU provider, 1 intra-op thread, graph optimizations on); one run() of the whole",
    "graph, median of 21 after a warm-up. `net` subtracts the fixed cost of one run() of a one-node graph.",
    "Target: ≤ 5 µs per node.",
  ].join("\n"),
  [
    ["what", "graph"],
    ["onnxNodes", "ONNX nodes"],
    ["compileMs", "compile ms (lower + session)"],
    ["runMs", "run ms"],
    ["perNodeUs", "µs per node"],
    ["perNodeNetUs", "net µs per node"],
  ],
  rows,
)
