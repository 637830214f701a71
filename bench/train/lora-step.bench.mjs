// A LoRA training step as `danlu train` builds it (kohya's defaults: LoRA on the UNet's transformer blocks and
// on the CLIP text encoder, both trained; MSE on epsilon; clip_grad_norm 1; AdamW), compiled as one ONNX
// Runtime program: compile time (first, and from the compile cache in a second process), step time, samples/s
// and peak RSS — on the full SD1.5 model at 512² (64² latents, rank 32, batch 1 and 2) and on the tiny SD1
// model. When Debian's python3-torch is at /usr/bin/python3, the same step in PyTorch 1.13 on the original
// CompVis UNet (bench/train/lora_step_torch.py) runs alongside and the ratio is reported. PyTorch needs an optimised
// BLAS: `apt install python3-torch` alone leaves Debian's single-threaded reference BLAS, which the script refuses
// (`apt install libopenblas0-pthread`).
// Each case is its own process. Full-size cases run only when the machine has the memory free (no swap here).
// Run: npm run build && node bench/train/lora-step.bench.mjs
//   One case alone: node bench/train/lora-step.bench.mjs --case '{"size":"sd15","batch":1,"rank":32,"alpha":16,
//   "latent":64,"steps":1,"compileCacheDir":"/tmp/c","compileOnly":true}' (compileOnly: no weights, no step,
//   and the ONNX node count;
//   "optimizerType":"SGD" swaps kohya's AdamW for another optimizer_type)
//   BENCH_SIZES=tiny,sd15 (default both)  BENCH_BATCHES=1,2 (SD1.5 batches)  BENCH_STEPS=3 (timed SD1.5 steps;
//   tiny: 10)  BENCH_TORCH=0 skips PyTorch  BENCH_MIXED_PRECISION=fp16|bf16 (base weights in half)
//   BENCH_CHECKPOINTING=1 (gradient_checkpointing)  BENCH_CSE=1 (keep ONNX Runtime's common-subexpression
//   elimination, which backend-onnx turns off by default)
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { availableGiB, loadAverage, runChild } from "../lib/child.mjs"
import { writeReport } from "../lib/report.mjs"
import { lcgData, uploadScopeWeights } from "../lib/sdWeights.mjs"
import { torchModel } from "../lib/torchModel.mjs"

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** One ONNX case in this process: builds the step, compiles it, one warm-up step, `steps` timed steps. */
const runCase = async ({
  size,
  batch,
  rank,
  alpha,
  latent,
  steps,
  compileCacheDir,
  gradientCheckpointing = false,
  disabledOptimizers,
  mixedPrecision = "no",
  backendOptions = {},
  compileOnly = false,
  optimizerType = "AdamW",
}) => {
  const { createOnnxBackend, lowerGraph } = await import("@danlu/backend-onnx")
  const core = await import("@danlu/core")
  const {
    buildTrainingStep,
    conditionedUNet,
    conditioningInputs,
    LoraNetwork,
    T,
    textConditioning,
    WeightScope,
  } = core
  const architecture = size === "sd15" ? core.standardArchitecture("sd1") : core.tinyArchitecture("sd1")
  const network = LoraNetwork.create({ rank, alpha })
  const storage = core.baseWeightStorage(mixedPrecision)
  const scope = WeightScope.root({ adapters: [network.adapter], ...(storage ? { storage } : {}) })
  const latents = T.input("latents", [batch, 4, latent, latent])
  const conditioning = textConditioning(
    scope,
    architecture,
    conditioningInputs(architecture, batch),
    undefined,
    { gradientCheckpointing },
  )
  const denoise = conditionedUNet(scope, architecture, conditioning, { gradientCheckpointing })
  const optimizer = core.makeOptimizer(optimizerType)
  const part = (unet) =>
    [...network.tensors().entries()].filter(([n]) => n.startsWith("lora_unet_") === unet).map(([, t]) => t)
  const step = buildTrainingStep({
    latents,
    denoise,
    groups: () => [
      { trainables: part(true), lr: T.input("lr_unet", []) },
      { trainables: part(false), lr: T.input("lr_te", []) },
    ],
    optimizer,
  })

  const backend = await createOnnxBackend({
    intraOpThreads: cpus().length,
    ...(compileCacheDir ? { compileCacheDir } : {}),
    ...(disabledOptimizers ? { disabledOptimizers } : {}),
    ...backendOptions,
  })
  if (compileOnly) {
    const cpuStart = process.cpuUsage()
    const start = performance.now()
    await backend.compile(step.graph)
    const compileMs = performance.now() - start
    const cpu = process.cpuUsage(cpuStart)
    await backend.close()
    const peakRssMiB = process.resourceUsage().maxRSS / 1024
    const compileCpuMs = (cpu.user + cpu.system) / 1000
    // Lowered again after the timing: the node count is what ONNX Runtime's session planning grows with.
    const onnxNodes = lowerGraph(step.graph, new Set(core.compositeOps)).nodeCount
    process.stdout.write(`${JSON.stringify({ compileMs, compileCpuMs, peakRssMiB, onnxNodes })}\n`)
    return
  }
  const { states, parameters, bytes: weightBytes } = await uploadScopeWeights(backend, scope)
  const initial = {
    ...network.initialWeights(42),
    ...optimizer.initialState(
      [true, false].map((unet) =>
        part(unet).map((t) => ({ name: t.attrs.name, shape: t.shape, dtype: t.dtype })),
      ),
    ),
    ...step.initialState,
  }
  let trainable = 0
  for (const [name, host] of Object.entries(initial)) {
    states[name] = await backend.upload(host)
    if (network.tensors().has(name)) trainable += host.data.length
  }

  const cpuStart = process.cpuUsage()
  const start = performance.now()
  const program = await backend.compile(step.graph)
  const compileMs = performance.now() - start
  const cpu = process.cpuUsage(cpuStart)
  const tokens = new Int32Array(batch * 77)
  for (let i = 0; i < tokens.length; i++)
    tokens[i] = i % 77 === 0 ? 49406 : i % 77 < 12 ? 320 + (i % 500) : 49407
  const feed = (k) => ({
    latents: {
      dtype: "f32",
      shape: [batch, 4, latent, latent],
      data: lcgData(batch * 4 * latent * latent, k, 1),
    },
    tokens: { dtype: "i32", shape: [batch, 77], data: tokens },
    noise_key: { dtype: "u32", shape: [4], data: Uint32Array.of(42, 0, k, 0) },
    loss_weights: { dtype: "f32", shape: [batch], data: new Float32Array(batch).fill(1) },
    step: { dtype: "f32", shape: [], data: Float32Array.of(k) },
    lr_unet: { dtype: "f32", shape: [], data: Float32Array.of(1e-4) },
    lr_te: { dtype: "f32", shape: [], data: Float32Array.of(1e-4) },
  })
  const timed = async (k) => {
    const t = performance.now()
    const c = process.cpuUsage()
    const out = await program.run(feed(k), states)
    const ms = performance.now() - t
    const used = process.cpuUsage(c)
    cpuTimes.push((used.user + used.system) / 1000)
    const loss = out.loss.data[0]
    if (!Number.isFinite(loss)) throw new Error(`step ${k}: the loss is ${loss}`)
    return { ms, loss }
  }
  const cpuTimes = []
  const first = await timed(1)
  const times = []
  let loss = first.loss
  for (let k = 2; k <= steps + 1; k++) {
    const r = await timed(k)
    times.push(r.ms)
    loss = r.loss
  }
  await backend.close()
  process.stdout.write(
    `${JSON.stringify({
      compileMs,
      compileCpuMs: (cpu.user + cpu.system) / 1000,
      firstStepMs: first.ms,
      stepMs: times.length > 0 ? median(times) : undefined,
      stepsMs: times,
      stepCpuMs: median(cpuTimes.slice(1).length > 0 ? cpuTimes.slice(1) : cpuTimes),
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      loss,
      parameters,
      weightBytes,
      trainable,
    })}\n`,
  )
}

const torchPython = "/usr/bin/python3"
const hasTorch = async () =>
  process.env.BENCH_TORCH !== "0" &&
  existsSync(torchPython) &&
  (await runChild(torchPython, ["-c", "import json, torch; print(json.dumps({'torch': torch.__version__}))"]))
    .torch !== undefined

if (process.argv[2] === "--case") {
  await runCase(JSON.parse(process.argv[3]))
} else {
  const self = fileURLToPath(import.meta.url)
  const sizes = (process.env.BENCH_SIZES ?? "tiny,sd15").split(",")
  const sd15Steps = Number(process.env.BENCH_STEPS ?? 3)
  // Debian's OpenBLAS 0.3.21 misdetects AVX-512 Xeons as Prescott; measured-here.md forces SkylakeX on them.
  const skylake = /avx512f/.test(readFileSync("/proc/cpuinfo", "utf8")) ? "SkylakeX" : undefined
  const torch = await hasTorch()
  const cacheDir = mkdtempSync(join(tmpdir(), "danlu-lora-step-cache-"))
  const configs = {
    tiny: { rank: 4, alpha: 2, latent: 32, steps: 10, needGiB: 2, torchNeedGiB: 2, batches: [2] },
    sd15: {
      rank: 32,
      alpha: 16,
      latent: 64,
      steps: sd15Steps,
      needGiB: 16,
      torchNeedGiB: 12,
      batches: (process.env.BENCH_BATCHES ?? "1,2").split(",").map(Number),
    },
  }
  // Peak RSS grows with the batch's activations: once batch 1 has run, batch b needs its peak plus (b − 1) times
  // its activations (peak less the f32 weights); before that, 4 GiB more per sample, so batch 2 of SD1.5 wants
  // at least 20 GiB free.
  const batchOnePeaks = {}
  const needFor = (key, size, batch, base) => {
    const guess = base + (size === "sd15" ? (batch - 1) * 4 : 0)
    const one = batchOnePeaks[key]
    return one ? Math.max(guess, Math.ceil(one.peak + (batch - 1) * (one.peak - one.weights))) : guess
  }
  const remember = (key, batch, r, parameters) => {
    if (batch === 1 && r.peakRssMiB !== undefined && parameters !== undefined)
      batchOnePeaks[key] = { peak: r.peakRssMiB / 1024, weights: (r.weightBytes ?? parameters * 4) / 2 ** 30 }
  }
  const rows = []
  const loads = []
  const ms = (v) => (v === undefined ? "—" : v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(0)} ms`)
  const gib = (mib) =>
    mib === undefined ? "—" : mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${mib.toFixed(0)} MiB`
  const push = (what, r, extra = {}) => {
    process.stderr.write(`${what}: ${JSON.stringify(r)}\n`)
    rows.push({
      what,
      compile: r.skipped ? r.skipped : ms(r.compileMs),
      compileCpu: ms(r.compileCpuMs),
      first: ms(r.firstStepMs),
      step: ms(r.stepMs),
      stepCpu: ms(r.stepCpuMs),
      samples: r.stepMs === undefined ? "—" : (extra.batch / (r.stepMs / 1000)).toFixed(3),
      peak: gib(r.peakRssMiB),
      ratio: extra.ratio ?? "",
      load: loads.at(-1)?.toFixed(1) ?? "",
    })
  }
  try {
    for (const size of sizes) {
      const config = configs[size]
      const model = torch ? await torchModel(size) : undefined
      for (const batch of config.batches) {
        const variant = [
          process.env.BENCH_MIXED_PRECISION ? `mixed_precision ${process.env.BENCH_MIXED_PRECISION}` : "",
          process.env.BENCH_CHECKPOINTING === "1" ? "gradient_checkpointing" : "",
          process.env.BENCH_CSE === "1" ? "with ORT CSE" : "",
        ]
          .filter((v) => v !== "")
          .join(", ")
        const label = `${size === "sd15" ? "SD1.5 512²" : "tiny SD1, 32² latents,"} rank ${config.rank} batch ${batch}${variant ? `, ${variant}` : ""}`
        const need = needFor(`onnx-${size}`, size, batch, config.needGiB)
        if (availableGiB() < need) {
          const reason = `skipped: ${availableGiB().toFixed(1)} GiB available, needs ${need}`
          process.stderr.write(`${label}: ${reason}\n`)
          push(`${label}, ONNX Runtime`, { skipped: reason }, { batch })
          continue
        }
        const onnx = (caseConfig) => runChild(process.execPath, [self, "--case", JSON.stringify(caseConfig)])
        const base = {
          size,
          batch,
          rank: config.rank,
          alpha: config.alpha,
          latent: config.latent,
          mixedPrecision: process.env.BENCH_MIXED_PRECISION ?? "no",
          gradientCheckpointing: process.env.BENCH_CHECKPOINTING === "1",
          ...(process.env.BENCH_CSE === "1" ? { disabledOptimizers: [] } : {}),
        }
        loads.push(loadAverage())
        const first = await onnx({
          ...base,
          steps: config.steps,
          compileCacheDir: join(cacheDir, `${size}-${batch}`),
        })
        push(`${label}, ONNX Runtime (first compile, fills the cache)`, first, { batch })
        remember(`onnx-${size}`, batch, first, first.parameters)
        loads.push(loadAverage())
        // The same steps as the first process and PyTorch: a process's second step runs slower than the ones
        // after it (SD1.5 batch 2: 23.2 s, then 21.0 and 20.9 s), so one timed step would not compare.
        const cached = await onnx({
          ...base,
          steps: config.steps,
          compileCacheDir: join(cacheDir, `${size}-${batch}`),
        })
        push(`${label}, ONNX Runtime (second process, cached compile)`, cached, { batch })
        if (!model) continue
        const onnxStep = median([first.stepMs, cached.stepMs].filter((v) => v !== undefined))
        const onnxStepCpu = median([first.stepCpuMs, cached.stepCpuMs].filter((v) => v !== undefined))
        const torchNeed = needFor(`torch-${size}`, size, batch, config.torchNeedGiB)
        for (const core of size === "sd15" ? [skylake] : [skylake, undefined]) {
          const what = `${label}, PyTorch ${core ? `(OPENBLAS_CORETYPE=${core})` : "(OpenBLAS as installed)"}`
          if (availableGiB() < torchNeed) {
            push(
              what,
              { skipped: `skipped: ${availableGiB().toFixed(1)} GiB available, needs ${torchNeed}` },
              { batch },
            )
            continue
          }
          loads.push(loadAverage())
          const r = await runChild(torchPython, [
            fileURLToPath(new URL("./lora_step_torch.py", import.meta.url)),
            JSON.stringify({
              ...model,
              batch,
              latent: config.latent,
              rank: config.rank,
              alpha: config.alpha,
              steps: config.steps,
              coretype: core,
            }),
          ])
          const ratio =
            r.stepMs && onnxStep
              ? `${(r.stepMs / onnxStep).toFixed(2)}× wall, ${(r.stepCpuMs / onnxStepCpu).toFixed(2)}× CPU`
              : ""
          push(r.blas ? `${what}, BLAS ${r.blas}` : what, r, { batch, ratio })
          if (core === skylake) remember(`torch-${size}`, batch, r, first.parameters)
        }
      }
    }
  } finally {
    rmSync(cacheDir, { recursive: true, force: true })
  }
  await writeReport(
    sizes.length === 1 ? `train-lora-step-${sizes[0]}` : "train-lora-step",
    "LoRA training step: ONNX Runtime against PyTorch 1.13",
    [
      "kohya's defaults as `danlu train` builds them: LoRA on every Linear and 1×1 conv of the UNet's transformer",
      "blocks and on the CLIP text encoder's attention and MLP, both trained; noise and timesteps drawn in the",
      "graph; MSE on epsilon; clip_grad_norm 1; AdamW — one compiled program per case, random f32 weights. SD1.5:",
      "859.5 M UNet + 123 M text-encoder parameters, 64² latents, 77 tokens. Tiny: tinyArchitecture('sd1'), 32²",
      `latents. ${cpus().length} threads both sides. Step = median of the timed steps after a warm-up step (SD1.5:`,
      `${sd15Steps}, tiny: 10, in each process on both sides); the ratios use the medians of the two ONNX`,
      "processes' step and step CPU. PyTorch runs the original CompVis UNet eagerly with kohya-style LoRA hooks",
      "(bench/train/lora_step_torch.py); its rows name the BLAS library it loaded, and it refuses Debian's reference",
      "BLAS, which python3-torch alone installs (install libopenblas0-pthread). Step CPU is the process's CPU time per step summed over its threads,",
      "steadier than wall time on a shared machine (spinning thread pools count too). The load column is the 1-minute load average when the case started.",
    ].join("\n"),
    [
      ["what", "case"],
      ["compile", "compile"],
      ["compileCpu", "compile CPU"],
      ["first", "first step"],
      ["step", "step"],
      ["stepCpu", "step CPU (all threads)"],
      ["samples", "samples/s"],
      ["peak", "peak RSS"],
      ["ratio", "PyTorch / ONNX"],
      ["load", "load"],
    ],
    rows,
  )
}
