// What persistent training state costs per step on the ONNX Runtime backend: a state read in place, a new
// value computed and kept inside the graph, the same value written back as a state update, and returned
// as an output. The difference between the second and the last two is onnxruntime-node's output copy.
// Run: npm run build -w @danlu/core -w @danlu/backend-onnx && node bench/onnx/state.bench.mjs
import { cpus } from "node:os"
import { createOnnxBackend } from "@danlu/backend-onnx"
import { hostTensor, T } from "@danlu/core"
import { medianMs, writeReport } from "../lib/report.mjs"

const megabytes = Number(process.env.BENCH_STATE_MB ?? 64)
const n = (megabytes * 2 ** 20) / 4
const backend = await createOnnxBackend({ intraOpThreads: cpus().length })
const w = T.state("w", [n])
const decayed = T.mul(w, 0.999)
const state = { w: await backend.upload(hostTensor("f32", [n], new Float32Array(n).fill(1))) }

const variants = [
  ["read the state (sum)", { outputs: { s: T.sum(w) } }],
  ["compute the new value, keep it inside the graph (sum of it)", { outputs: { s: T.sum(decayed) } }],
  ["update the state (graph.updates)", { outputs: { s: T.sum(w) }, updates: { w: decayed } }],
  ["return the new value as an output", { outputs: { s: T.sum(w), next: decayed } }],
]
const rows = []
let baseMs = 0
for (const [what, graph] of variants) {
  const program = await backend.compile(graph)
  const ms = await medianMs(9, () => program.run({}, state))
  if (rows.length === 0) baseMs = ms
  const extra = ms - baseMs
  rows.push({
    what,
    ms: ms.toFixed(1),
    extraMs: rows.length === 0 ? "—" : extra.toFixed(1),
    msPerMB: rows.length === 0 ? "—" : (extra / megabytes).toFixed(3),
  })
  await program.release()
}
await backend.close()

await writeReport(
  "onnx-state",
  "ONNX Runtime backend: cost of persistent state per step",
  [
    `One f32 state of ${megabytes} MB; the new value is the state times 0.999. \`extra\` is the time over the`,
    "read-only graph. onnxruntime-node copies every output of a run into a new ArrayBuffer (also when a",
    "preallocated output is passed), so an updated state costs that copy on every step.",
    `median of 9 runs, CPU provider with ${cpus().length} intra-op threads.`,
  ].join("\n"),
  [
    ["what", "graph"],
    ["ms", "ms per run"],
    ["extraMs", "extra ms"],
    ["msPerMB", "extra ms per MB"],
  ],
  rows,
)
