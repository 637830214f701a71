// An SD-like transformer block, forward + backward: the whole graph as one ONNX Runtime session vs. the
// same nodes run one session per op, achieved GFLOP/s against ONNX Runtime's own MatMul rate on this
// machine, and the peak resident memory of each (each variant runs in its own child process).
// Run: npm run build -w @danlu/core -w @danlu/backend-onnx && node bench/onnx/transformer.bench.mjs
// Sizes: BENCH_TOKENS (4096), BENCH_CHANNELS (320), BENCH_CONTEXT (77), BENCH_CONTEXT_CHANNELS (768), BENCH_HEADS (8).
import { execFileSync } from "node:child_process"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import { createOnnxBackend } from "@danlu/backend-onnx"
import { analyzeGraph, graphKey, hostTensor, lowerComposites, T, Tensor } from "@danlu/core"
import { writeReport } from "../lib/report.mjs"
import { matmulFlops, transformerBlockGraph } from "./transformerBlock.mjs"

const env = (name, fallback) => Number(process.env[name] ?? fallback)
const shapes = {
  tokens: env("BENCH_TOKENS", 4096),
  channels: env("BENCH_CHANNELS", 320),
  contextTokens: env("BENCH_CONTEXT", 77),
  contextChannels: env("BENCH_CONTEXT_CHANNELS", 768),
  heads: env("BENCH_HEADS", 8),
}
const rounds = env("BENCH_ROUNDS", 3)
const threads = env("BENCH_THREADS", cpus().length)

const values = (n, seed) => {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = (s / 2 ** 32 - 0.5) * 0.2
  }
  return out
}
const host = (spec, seed) =>
  hostTensor(
    "f32",
    spec.shape,
    values(
      spec.shape.reduce((a, b) => a * b, 1),
      seed,
    ),
  )

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** ONNX Runtime's MatMul on one [n×n]·[n×n] product: the machine's reference rate. */
const matmulProgram = async (backend, n) => {
  const program = await backend.compile({
    outputs: { c: T.matmul(T.input("a", [n, n]), T.input("b", [n, n])) },
  })
  const feeds = { a: host({ shape: [n, n] }, 1), b: host({ shape: [n, n] }, 2) }
  await program.run(feeds)
  return async () => {
    const start = performance.now()
    await program.run(feeds)
    return (2 * n ** 3) / ((performance.now() - start) / 1000) / 1e9
  }
}

/** Block runs interleaved with MatMul runs, so both rates see the same load on a shared machine. */
const wholeGraph = async (backend, graph, feeds, states) => {
  const program = await backend.compile(graph)
  const matmul = await matmulProgram(backend, 2048)
  await program.run(feeds, states)
  const times = []
  const rates = []
  for (let i = 0; i < rounds; i++) {
    rates.push(await matmul())
    const start = performance.now()
    await program.run(feeds, states)
    times.push(performance.now() - start)
    rates.push(await matmul())
  }
  return { ms: median(times), matmulGflops: median(rates) }
}

/** Every node of the (composite-kept) graph as its own session, values carried in JS between runs. */
const perOp = async (backend, graph, feeds, states) => {
  const fused = new Set(backend.fused)
  const { order, graph: lowered } = analyzeGraph(lowerComposites(graph, fused))
  const lastUse = new Map()
  order.forEach((node, i) => {
    for (const input of node.inputs) lastUse.set(input.id, i)
  })
  for (const t of Object.values(lowered.outputs)) lastUse.set(t.id, order.length)
  const programs = new Map()
  const steps = []
  for (const [at, node] of order.entries()) {
    if (node.op === "input" || node.op === "state") continue
    const placeholders = node.inputs.map((t, k) => T.input(`in${k}`, t.shape, t.dtype))
    const single = { outputs: { y: new Tensor(node.op, placeholders, node.attrs, node.shape, node.dtype) } }
    const key = graphKey(single)
    if (!programs.has(key)) programs.set(key, await backend.compile(single))
    steps.push({ at, node, program: programs.get(key) })
  }
  const pass = async () => {
    const live = new Map()
    for (const node of order) {
      if (node.op === "input") live.set(node.id, feeds[node.attrs.name])
      if (node.op === "state") live.set(node.id, states[node.attrs.name])
    }
    for (const { at, node, program } of steps) {
      const inputs = Object.fromEntries(node.inputs.map((t, k) => [`in${k}`, live.get(t.id)]))
      live.set(node.id, (await program.run(inputs)).y)
      for (const t of node.inputs) if (lastUse.get(t.id) === at) live.delete(t.id)
    }
  }
  await pass()
  const times = []
  for (let i = 0; i < rounds; i++) {
    const start = performance.now()
    await pass()
    times.push(performance.now() - start)
  }
  return { ms: median(times), sessions: programs.size, ops: steps.length }
}

const child = async (variant) => {
  const backend = await createOnnxBackend({ intraOpThreads: threads })
  backend.fused = (await backend.describe()).capabilities.fused
  const { graph, weights } = transformerBlockGraph(shapes)
  const feeds = {
    x: host({ shape: [1, shapes.tokens, shapes.channels] }, 3),
    context: host({ shape: [1, shapes.contextTokens, shapes.contextChannels] }, 4),
    cotangent: host({ shape: [1, shapes.tokens, shapes.channels] }, 5),
  }
  const states = {}
  for (const [i, w] of weights.entries()) states[w.attrs.name] = await backend.upload(host(w, 10 + i))
  const result = { variant, flops: matmulFlops(graph) }
  if (variant === "whole") {
    Object.assign(result, await wholeGraph(backend, graph, feeds, states))
  } else {
    Object.assign(result, await perOp(backend, graph, feeds, states))
  }
  result.peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024)
  process.stdout.write(JSON.stringify(result))
  await backend.close()
}

if (process.argv[2]) {
  await child(process.argv[2])
} else {
  const script = fileURLToPath(import.meta.url)
  const run = (variant) =>
    JSON.parse(execFileSync(process.execPath, [script, variant], { encoding: "utf8", maxBuffer: 1 << 20 }))
  const whole = run("whole")
  const single = run("per-op")
  const gflops = (r) => r.flops / (r.ms / 1000) / 1e9
  const row = (r, what) => ({
    what,
    ms: r.ms.toFixed(0),
    gflops: gflops(r).toFixed(1),
    ofMatmul: `${((100 * gflops(r)) / whole.matmulGflops).toFixed(0)} %`,
    rss: r.peakRssMiB,
  })
  const { tokens, channels, contextTokens, contextChannels, heads } = shapes
  await writeReport(
    "onnx-transformer",
    "ONNX Runtime backend: transformer block forward + backward",
    [
      `An SD-style transformer block at ${tokens} tokens × ${channels} channels, ${heads} heads, context ${contextTokens} × ${contextChannels}`,
      "(LayerNorm → self-attention → LayerNorm → cross-attention → LayerNorm → GEGLU feed-forward, residuals),",
      "forward plus the gradients with respect to the input and every weight, f32, CPU provider with",
      `${threads} intra-op threads; median of ${rounds} runs after a warm-up. GFLOP/s counts the distinct matrix products only`,
      `(${(whole.flops / 1e9).toFixed(1)} GFLOP per step). ONNX Runtime's own MatMul on 2048² reached ${whole.matmulGflops.toFixed(0)} GFLOP/s`,
      `in the same process (median of runs interleaved with the block's). Per-op: ${single.ops} nodes, ${single.sessions} distinct sessions, values carried through JavaScript.`,
      "Peak RSS is the whole Node process (weights, inputs, runtime).",
    ].join("\n"),
    [
      ["what", "variant"],
      ["ms", "ms per step"],
      ["gflops", "GFLOP/s (matmuls)"],
      ["ofMatmul", "of MatMul rate"],
      ["rss", "peak RSS MiB"],
    ],
    [row(whole, "whole graph, one session"), row(single, "one session per op")],
  )
}
