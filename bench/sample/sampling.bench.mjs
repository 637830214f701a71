// Sampling on ONNX Runtime: seconds per denoiser step and per picture (20 steps, Euler and DPM++ 2M, CFG:
// the UNet sees batch 2), peak RSS, the cost of one xyz grid cell, and that a LoRA weight or the CFG scale
// changes without a recompile (counted by the generator).
// - tiny: the tiny SD1 model written as a checkpoint and drawn with @danlu/dataset's generator, exactly as
//   `danlu generate` / `danlu xyz` draw (text encoder, sampler, VAE decode), 64² pictures (32² latents);
// - sd15: the full SD1.5 UNet in core's CFG denoiser graph at 512² (64² latents), random weights; 3 steps of
//   each sampler are timed and a 20-step picture extrapolated from them (the UNet dominates: text encoder and
//   VAE decode are not included). PyTorch's side is bench/sample/sampling_torch.py when python3-torch is there,
//   with an optimised BLAS (it refuses Debian's reference BLAS: `apt install libopenblas0-pthread`).
// Each case is its own process. Run: npm run build && node bench/sample/sampling.bench.mjs   (BENCH_SIZES=tiny,sd15)
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { availableGiB, loadAverage, runChild } from "../lib/child.mjs"
import { writeReport } from "../lib/report.mjs"
import { lcgData, uploadScopeWeights } from "../lib/sdWeights.mjs"
import { torchModel } from "../lib/torchModel.mjs"

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const timed = async (f) => {
  const start = performance.now()
  const value = await f()
  return { ms: performance.now() - start, value }
}

/** The tiny model through the generator `danlu generate` uses. */
const tinyCase = async ({ rounds }) => {
  const { Effect } = await import("effect")
  const core = await import("@danlu/core")
  const { writeFileAtomic } = await import("@danlu/core/node")
  const { layer } = await import("@danlu/backend-onnx")
  const { openGenerator } = await import("@danlu/dataset")
  const dir = mkdtempSync(join(tmpdir(), "danlu-sampling-"))
  const architecture = core.tinyArchitecture("sd1")
  const model = join(dir, "tiny.safetensors")
  const lora = join(dir, "style.safetensors")
  const write = (path, sink) => Effect.runPromise(writeFileAtomic(path, sink, { existing: "replace" }))
  const checkpoint = core.syntheticCheckpoint(architecture, 2025)
  await write(model, (s) =>
    core.writeSafetensors(s, core.tensorsInMemory(checkpoint.tensors, checkpoint.metadata)),
  )
  const network = core.LoraNetwork.create({ rank: 4, alpha: 2 })
  const scope = core.WeightScope.root({ adapters: [network.adapter] })
  const conditioning = core.textConditioning(
    scope,
    architecture,
    core.conditioningInputs(architecture, 1),
    undefined,
  )
  core.conditionedUNet(
    scope,
    architecture,
    conditioning,
  )(core.T.input("x", [1, 4, 8, 8]), core.T.input("t", [1]))
  const weights = network.initialWeights(7)
  for (const [name, t] of Object.entries(weights))
    if (name.endsWith("lora_up.weight")) weights[name] = { ...t, data: lcgData(t.data.length, 3, 0.5) }
  const metadata = core.kohyaMetadata({
    family: "sd1",
    rank: 4,
    alpha: 2,
    title: "bench",
    resolution: [64, 64],
  })
  await write(lora, (s) => core.writeKohyaLora(s, network.moduleWeights(weights), metadata, "F32"))

  const result = await Effect.runPromise(
    Effect.gen(function* () {
      const generator = yield* openGenerator(model)
      const request = (sampler, extra = {}) => ({
        prompt: "a photo of a cat, best quality",
        negativePrompt: "lowres, blurry",
        loras: [],
        sampler: core.Sample.parseSamplerName(sampler),
        steps: 20,
        cfgScale: 7,
        seeds: [1],
        rng: "philox",
        width: 64,
        height: 64,
        ...extra,
      })
      const draw = (r) => Effect.promise(() => timed(() => Effect.runPromise(generator.draw(r))))
      const first = yield* draw(request("Euler"))
      const compilesAfterFirst = generator.compiles()
      const pictures = {}
      for (const sampler of ["Euler", "DPM++ 2M"]) {
        const times = []
        for (let i = 0; i < rounds; i++) times.push((yield* draw(request(sampler))).ms)
        pictures[sampler] = median(times)
      }
      const stepSeconds = yield* generator.timeStep(request("Euler"))
      // An xyz cell: the base picture with a LoRA at a weight; each cell changes the weight or the CFG scale.
      const cell = (weight, cfgScale) =>
        request("DPM++ 2M", {
          loras: [{ path: lora, teMultiplier: weight, unetMultiplier: weight }],
          cfgScale,
        })
      const compilesBeforeLora = generator.compiles()
      const loraFirst = yield* draw(cell(0.8, 7))
      const compilesWithLora = generator.compiles()
      const cells = []
      for (const [weight, cfg] of [
        [0.3, 7],
        [0.6, 5],
        [0.8, 9],
      ])
        cells.push((yield* draw(cell(weight, cfg))).ms)
      return {
        firstPictureMs: first.ms,
        compilesAfterFirst,
        eulerPictureMs: pictures.Euler,
        dpmPictureMs: pictures["DPM++ 2M"],
        stepMs: stepSeconds * 1000,
        loraFirstCellMs: loraFirst.ms,
        compilesForLora: compilesWithLora - compilesBeforeLora,
        cellMs: median(cells),
        compilesForWeightAndCfgChanges: generator.compiles() - compilesWithLora,
      }
    }).pipe(Effect.scoped, Effect.provide(layer)),
  )
  rmSync(dir, { recursive: true, force: true })
  process.stdout.write(
    `${JSON.stringify({ ...result, peakRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`,
  )
}

/** The full SD1.5 UNet in the CFG denoiser graph: a few steps of each sampler, extrapolated to 20. */
const sd15Case = async ({ steps }) => {
  const { Effect } = await import("effect")
  const core = await import("@danlu/core")
  const { createOnnxBackend } = await import("@danlu/backend-onnx")
  const { Sample } = core
  const backend = await createOnnxBackend({ intraOpThreads: cpus().length })
  const scope = core.WeightScope.root()
  const { graph } = Sample.denoiserGraph(
    (inputs) => core.unet(scope.at(core.unetPrefix), core.sd15UNet, inputs),
    { batch: 1, height: 64, width: 64, contextLength: 77, contextDim: 768 },
  )
  const { states } = await uploadScopeWeights(backend, scope)
  const compile = await timed(() => backend.compile(graph))
  const program = compile.value
  const context = (seed) => ({ dtype: "f32", shape: [1, 77, 768], data: lcgData(77 * 768, seed, 1) })
  const fixed = { cond: context(1), uncond: context(2), cfg_scale: Sample.cfgScaleInput(7) }
  const stepTimes = []
  const denoise = (x, sigma) =>
    Effect.promise(async () => {
      const start = performance.now()
      const out = await program.run(
        {
          ...fixed,
          x: { dtype: "f32", shape: [1, 4, 64, 64], data: x },
          sigma: { dtype: "f32", shape: [1], data: Float32Array.of(sigma) },
        },
        states,
      )
      stepTimes.push(performance.now() - start)
      return out.denoised.data
    })
  const schedule = Sample.discreteSchedule()
  const result = { compileMs: compile.ms }
  for (const [name, run] of [
    ["Euler", Sample.sampleEuler],
    ["DPM++ 2M", Sample.sampleDpmpp2m],
  ]) {
    const sigmas = Sample.samplerSigmas(schedule, Sample.parseSamplerName(name), 20)
    const noise = lcgData(4 * 64 * 64, 5, 1.7).map((v) => v * sigmas[0])
    stepTimes.length = 0
    // The first run plans ONNX Runtime's memory: a warm-up step before the timed ones.
    await Effect.runPromise(run({ denoise, x: noise, sigmas: sigmas.slice(0, 2) }))
    if (result.firstStepMs === undefined) result.firstStepMs = stepTimes[0]
    stepTimes.length = 0
    const x = await Effect.runPromise(run({ denoise, x: noise, sigmas: sigmas.slice(0, steps + 1) }))
    if (!x.every(Number.isFinite)) throw new Error(`${name}: non-finite latents`)
    result[name] = median(stepTimes)
  }
  await backend.close()
  process.stdout.write(
    `${JSON.stringify({ ...result, peakRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`,
  )
}

if (process.argv[2] === "--case") {
  const config = JSON.parse(process.argv[3])
  await (config.size === "sd15" ? sd15Case(config) : tinyCase(config))
} else {
  const self = fileURLToPath(import.meta.url)
  const sizes = (process.env.BENCH_SIZES ?? "tiny,sd15").split(",")
  const torchScript = fileURLToPath(new URL("./sampling_torch.py", import.meta.url))
  const torch =
    process.env.BENCH_TORCH !== "0" &&
    existsSync("/usr/bin/python3") &&
    (await runChild("/usr/bin/python3", ["-c", "import json, torch; print(json.dumps({'ok': 1}))"])).ok === 1
  const skylake = /avx512f/.test(readFileSync("/proc/cpuinfo", "utf8")) ? "SkylakeX" : undefined
  const rows = []
  const s = (ms) => (ms === undefined ? "—" : `${(ms / 1000).toFixed(ms < 1000 ? 3 : 1)} s`)
  const gib = (mib) =>
    mib === undefined ? "—" : mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${mib.toFixed(0)} MiB`
  const sd15Steps = Number(process.env.BENCH_STEPS ?? 3)
  for (const size of sizes) {
    const need = size === "sd15" ? 9 : 1
    const load = loadAverage().toFixed(1)
    if (availableGiB() < need) {
      rows.push({ what: `${size}: skipped, ${availableGiB().toFixed(1)} GiB available, needs ${need}`, load })
      continue
    }
    const r = await runChild(process.execPath, [
      self,
      "--case",
      JSON.stringify({ size, rounds: 3, steps: sd15Steps }),
    ])
    process.stderr.write(`${size}: ${JSON.stringify(r)}\n`)
    if (r.skipped) {
      rows.push({ what: `${size}: ${r.skipped}`, load })
      continue
    }
    const torchResult =
      torch && availableGiB() >= need
        ? await runChild("/usr/bin/python3", [
            torchScript,
            JSON.stringify({
              ...(await torchModel(size)),
              latent: size === "sd15" ? 64 : 32,
              steps: size === "sd15" ? sd15Steps : 20,
              coretype: skylake,
            }),
          ])
        : undefined
    if (torchResult) process.stderr.write(`${size} PyTorch: ${JSON.stringify(torchResult)}\n`)
    const ratio = (torchMs, onnxMs) => (torchMs && onnxMs ? `${(torchMs / onnxMs).toFixed(2)}×` : "—")
    if (size === "sd15") {
      for (const sampler of ["Euler", "DPM++ 2M"]) {
        rows.push({
          what: `SD1.5 512², ${sampler}, CFG 7 (UNet batch 2), ONNX Runtime`,
          step: s(r[sampler]),
          picture: `${s(20 * r[sampler])} (20 × step)`,
          cell: "—",
          compiles: `compile ${s(r.compileMs)}, first step ${s(r.firstStepMs)}`,
          peak: gib(r.peakRssMiB),
          torchStep: torchResult?.skipped ?? s(torchResult?.[sampler]),
          ratio: ratio(torchResult?.[sampler], r[sampler]),
          load,
        })
      }
    } else {
      const compiles = `${r.compilesAfterFirst} for the first picture (${s(r.firstPictureMs)}); +${r.compilesForLora} for the first LoRA; +${r.compilesForWeightAndCfgChanges} for 3 weight/CFG changes`
      rows.push({
        what: "tiny SD1 64², Euler, CFG 7, through the generator (text, 20 steps, VAE decode), ONNX Runtime",
        step: s(r.stepMs),
        picture: s(r.eulerPictureMs),
        cell: s(r.cellMs),
        compiles,
        peak: gib(r.peakRssMiB),
        torchStep: torchResult?.skipped ?? s(torchResult?.Euler),
        ratio: ratio(torchResult?.Euler, r.stepMs),
        load,
      })
      rows.push({
        what: "tiny SD1 64², DPM++ 2M, same",
        step: "—",
        picture: s(r.dpmPictureMs),
        cell: `first LoRA cell ${s(r.loraFirstCellMs)}`,
        compiles: "",
        peak: "",
        torchStep: torchResult?.skipped ?? s(torchResult?.["DPM++ 2M"]),
        ratio: "",
        load,
      })
    }
  }
  await writeReport(
    sizes.length === 1 ? `sample-sampling-${sizes[0]}` : "sample-sampling",
    "Sampling on ONNX Runtime: steps, pictures, grid cells, recompiles",
    [
      "CFG as A1111 does it (cond and uncond rows in one UNet batch of 2), k-diffusion's Euler and DPM++ 2M. Tiny:",
      "the sampler's update inside the denoiser program, latents on the device; SD1.5: host loops over the",
      "denoiser as one compiled ONNX Runtime program. Tiny: the tiny SD1 checkpoint through",
      "@danlu/dataset's generator (what `danlu generate` and `danlu xyz` run); picture = prompt encoding + 20",
      "steps + VAE decode, median of 3 after a first picture that compiles; a grid cell = one DPM++ 2M picture",
      "with <lora:…> at a weight and a CFG scale, median of 3 cells, each changing the weight or the scale.",
      `SD1.5: the full UNet with random weights, ${sd15Steps} timed steps per sampler after a warm-up step; a`,
      "picture is extrapolated as 20 steps (text encoder and VAE decode not counted). PyTorch: the CompVis UNet",
      "(tools/reference/ldm_unet.py) in a k-diffusion-style CFG Euler / DPM++ 2M loop under no_grad",
      "(bench/sample/sampling_torch.py), its median step; the tiny PyTorch step is the UNet step only.",
      `${cpus().length} threads both sides; the load column is the 1-minute load average when the case started.`,
    ].join("\n"),
    [
      ["what", "case"],
      ["step", "s / step"],
      ["picture", "s / picture"],
      ["cell", "s / grid cell"],
      ["compiles", "compiles"],
      ["peak", "peak RSS"],
      ["torchStep", "PyTorch s / step"],
      ["ratio", "PyTorch / ONNX"],
      ["load", "load"],
    ],
    rows,
  )
}
