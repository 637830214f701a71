// Compile time and peak memory of a tiny-UNet LoRA training step (forward, backward, AdamW as one graph)
// on ONNX Runtime: the optimised-model cache (first compile vs the next process's), the graph
// optimisation levels, and the CPU arena / memory-pattern settings. Each case runs in its own process, so
// its peak RSS is its own.
// Run: npm run build -w @danlu/core -w @danlu/backend-onnx && node bench/onnx/compile-cache.bench.mjs
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { writeReport } from "../lib/report.mjs"

const steps = Number(process.env.BENCH_STEPS ?? 3)

/** One case in this process: compile, a warm-up step, `steps` timed steps; prints one JSON line. */
const runCase = async ({ lowerOnly, ...config }) => {
  const { createOnnxBackend, lowerGraph } = await import("@danlu/backend-onnx")
  const { adamW, grad, LoraNetwork, T, tinySd1UNet, topologicalOrder, unet, unetPrefix, WeightScope } =
    await import("@danlu/core")
  const network = LoraNetwork.create({ rank: 4, alpha: 4, components: ["unet"] })
  const scope = WeightScope.root({ adapters: [network.adapter] })
  const x = T.input("x", [2, 4, 16, 16])
  const target = T.input("target", [2, 4, 16, 16])
  const context = T.input("context", [2, 8, 32])
  const timesteps = T.input("timesteps", [2])
  const eps = unet(scope.at(unetPrefix), tinySd1UNet, { x, timesteps, context })
  const loss = T.mean(T.square(T.sub(eps, target)))
  const trainable = [...network.tensors().values()]
  const grads = grad(loss, trainable)
  const updates = adamW(
    trainable.map((param, i) => ({ param, grad: grads[i] })),
    { lr: T.input("lr", []), step: T.input("step", []) },
  )
  const graph = { outputs: { loss }, updates }
  const nodes = topologicalOrder([loss, ...Object.values(updates)]).length
  if (lowerOnly) {
    const { compositeOps } = await import("@danlu/core")
    const start = performance.now()
    const cpuStart = process.cpuUsage()
    const { model } = lowerGraph(graph, new Set(compositeOps))
    const lowerMs = performance.now() - start
    const cpu = process.cpuUsage(cpuStart)
    const compileCpuMs = (cpu.user + cpu.system) / 1000
    process.stdout.write(
      `${JSON.stringify({ compileMs: lowerMs, compileCpuMs, modelBytes: model.byteLength, nodes })}\n`,
    )
    return
  }

  const backend = await createOnnxBackend({ intraOpThreads: cpus().length, ...config })
  const size = (shape) => shape.reduce((a, b) => a * b, 1)
  const states = {}
  for (const [i, entry] of [...scope.manifest().values()].entries()) {
    // Small values from an LCG; norm weights near 1 so activations stay in range.
    const data = new Float32Array(size(entry.shape))
    let s = (i + 1) >>> 0
    for (let j = 0; j < data.length; j++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0
      data[j] = (entry.shape.length === 1 && entry.key.endsWith("weight") ? 1 : 0) + (s / 2 ** 32 - 0.5) * 0.1
    }
    states[entry.key] = await backend.upload({ dtype: "f32", shape: entry.shape, data })
  }
  for (const [name, host] of Object.entries(network.initialWeights(1)))
    states[name] = await backend.upload(host)
  // AdamW's moments start at zero.
  for (const [name, value] of Object.entries(updates)) {
    states[name] ??= await backend.upload({
      dtype: "f32",
      shape: value.shape,
      data: new Float32Array(size(value.shape)),
    })
  }
  const start = performance.now()
  const cpuStart = process.cpuUsage()
  const program = await backend.compile(graph)
  const compileMs = performance.now() - start
  const cpu = process.cpuUsage(cpuStart)
  const compileCpuMs = (cpu.user + cpu.system) / 1000
  const feed = (k) => {
    const values = (shape, seed) => {
      const n = shape.reduce((a, b) => a * b, 1)
      const data = new Float32Array(n)
      for (let i = 0; i < n; i++) data[i] = Math.sin(seed * 7919 + i * 0.37)
      return { dtype: "f32", shape, data }
    }
    return {
      x: values([2, 4, 16, 16], k),
      target: values([2, 4, 16, 16], k + 100),
      context: values([2, 8, 32], 3),
      timesteps: { dtype: "f32", shape: [2], data: Float32Array.of(10 * k, 500) },
      lr: { dtype: "f32", shape: [], data: Float32Array.of(1e-3) },
      step: { dtype: "f32", shape: [], data: Float32Array.of(k) },
    }
  }
  const firstStart = performance.now()
  let last = await program.run(feed(1), states)
  const firstStepMs = performance.now() - firstStart
  const times = []
  for (let k = 2; k <= steps + 1; k++) {
    const t = performance.now()
    last = await program.run(feed(k), states)
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  await backend.close()
  process.stdout.write(
    `${JSON.stringify({
      compileMs,
      compileCpuMs,
      firstStepMs,
      stepMs: times[Math.floor(times.length / 2)],
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      loss: last.loss.data[0],
      nodes,
    })}\n`,
  )
}

if (process.argv[2] === "--case") {
  await runCase(JSON.parse(process.argv[3]))
} else {
  const self = fileURLToPath(import.meta.url)
  const cacheDir = mkdtempSync(join(tmpdir(), "danlu-compile-cache-"))
  const measure = (config) =>
    JSON.parse(
      execFileSync(process.execPath, [self, "--case", JSON.stringify(config)], { encoding: "utf8" })
        .trim()
        .split("\n")
        .at(-1),
    )
  const cases = [
    ["cache: first compile (saves the optimised model)", { compileCacheDir: cacheDir }],
    ["cache: next process (loads it, optimisation off)", { compileCacheDir: cacheDir }],
    ["level disabled", { graphOptimizationLevel: "disabled" }],
    ["level basic", { graphOptimizationLevel: "basic" }],
    ["level extended", { graphOptimizationLevel: "extended" }],
    ["level all (the default)", { graphOptimizationLevel: "all" }],
    ["all, arena off", { enableCpuMemArena: false }],
    ["all, memory pattern off", { enableMemPattern: false }],
    ["all, arena and memory pattern off", { enableCpuMemArena: false, enableMemPattern: false }],
    ["lowering to ONNX alone (part of every compile)", { lowerOnly: true }],
  ]
  const rows = []
  try {
    for (const [what, config] of cases) {
      const r = measure(config)
      const shown = (value, format) => (value === undefined ? "—" : format(value))
      rows.push({
        what,
        compileMs: r.compileMs.toFixed(0),
        compileCpuMs: r.compileCpuMs.toFixed(0),
        firstStepMs: shown(r.firstStepMs, (v) => v.toFixed(0)),
        stepMs: shown(r.stepMs, (v) => v.toFixed(0)),
        peakRssMiB: shown(r.peakRssMiB, (v) => v.toFixed(0)),
        loss: shown(r.loss, (v) => v.toPrecision(6)),
      })
      process.stderr.write(`${what}: ${JSON.stringify(r)}\n`)
    }
  } finally {
    rmSync(cacheDir, { recursive: true, force: true })
  }
  await writeReport(
    "onnx-compile-cache",
    "ONNX Runtime backend: compile cache, optimisation levels and memory settings on a LoRA training step",
    [
      "The tiny SD1 UNet (danlu's golden config) with a rank-4 LoRA on every kohya target, batch 2 at 16×16",
      "latents: forward, MSE loss, gradients of the LoRA factors and an AdamW update, as one graph and one",
      `session. Each row is a fresh process; compile is lowering plus session creation (wall and CPU time, the`,
      `latter less sensitive to a shared machine); step is the median of ${steps} steps after the first. CPU provider,`,
      `${cpus().length} intra-op threads. The same loss in every row shows the variants compute the same step.`,
    ].join("\n"),
    [
      ["what", "variant"],
      ["compileMs", "compile ms"],
      ["compileCpuMs", "compile CPU ms"],
      ["firstStepMs", "first step ms"],
      ["stepMs", "step ms"],
      ["peakRssMiB", "peak RSS MiB"],
      ["loss", "loss after the last step"],
    ],
    rows,
  )
}
