// Peak RSS, compile and step time of the LoRA training step on ONNX Runtime under each memory setting:
// ONNX Runtime's common-subexpression elimination (CSE) and memory pattern (backend-onnx turns both off by
// default),
// gradient_checkpointing, and mixed_precision fp16/bf16 (base weights held in half, ADR 0011). Each case is
// one process of lora-step.bench.mjs (`--case`), run one at a time under the memory watchdog: one
// warm-up step, then BENCH_STEPS timed steps (default 1).
// Run: npm run build && BENCH_SIZES=tiny node bench/train/lora-step-memory.bench.mjs
//   BENCH_SIZES=sd15 needs ~13–17 GiB free per case (SD1.5 at 512², rank 32, batch 1; several minutes each).
import { fileURLToPath } from "node:url"
import { availableGiB, loadAverage, runChild } from "../lib/child.mjs"
import { writeReport } from "../lib/report.mjs"

const before = { disabledOptimizers: [], backendOptions: { enableMemPattern: true } }
export const memoryCases = [
  ["f32, ORT CSE and memory pattern on (before)", before],
  ["f32, gradient_checkpointing, ORT CSE and memory pattern on", { ...before, gradientCheckpointing: true }],
  ["f32 (CSE off, the default)", {}],
  ["f32, gradient_checkpointing", { gradientCheckpointing: true }],
  ["mixed_precision fp16", { mixedPrecision: "fp16" }],
  ["mixed_precision bf16", { mixedPrecision: "bf16" }],
  ["mixed_precision fp16, ORT CSE on", { disabledOptimizers: [], mixedPrecision: "fp16" }],
  ["mixed_precision fp16, gradient_checkpointing", { mixedPrecision: "fp16", gradientCheckpointing: true }],
  [
    "mixed_precision fp16, CPU arena off",
    { mixedPrecision: "fp16", backendOptions: { enableCpuMemArena: false } },
  ],
  [
    "mixed_precision fp16, memory pattern off",
    { mixedPrecision: "fp16", backendOptions: { enableMemPattern: false } },
  ],
]

const sizes = {
  tiny: { size: "tiny", batch: 2, rank: 4, alpha: 2, latent: 32, needGiB: 2 },
  sd15: { size: "sd15", batch: 1, rank: 32, alpha: 16, latent: 64, needGiB: 17 },
}

const s = (ms) => (ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`)
const gib = (mib) => (mib === undefined ? "—" : `${(mib / 1024).toFixed(2)} GiB`)

/** A report row from one case's JSON line. */
export const memoryRow = (size, label, r, load) => ({
  what: `${size === "sd15" ? "SD1.5 512², rank 32, batch 1" : "tiny SD1, 32² latents, rank 4, batch 2"}: ${label}`,
  peak: r.skipped ?? gib(r.peakRssMiB),
  weights: r.weightBytes === undefined ? "—" : gib(r.weightBytes / 2 ** 20),
  compile: s(r.compileMs),
  compileCpu: s(r.compileCpuMs),
  first: s(r.firstStepMs),
  step: s(r.stepMs),
  stepCpu: s(r.stepCpuMs),
  loss: r.loss === undefined ? "—" : r.loss.toFixed(6),
  load: load.toFixed(1),
})

export const memoryColumns = [
  ["what", "case"],
  ["peak", "peak RSS"],
  ["weights", "base weights uploaded"],
  ["compile", "compile"],
  ["compileCpu", "compile CPU"],
  ["first", "first step"],
  ["step", "step"],
  ["stepCpu", "step CPU"],
  ["loss", "loss"],
  ["load", "load"],
]

export const memoryNotes = [
  "The step of bench/train/lora-step.bench.mjs (kohya's defaults: UNet and text-encoder LoRA, MSE on epsilon,",
  "clip_grad_norm 1, AdamW), random weights, one process per case, run one at a time. Step = median of the",
  "timed steps after one warm-up step; step CPU is the process's CPU time per step over all threads (steadier",
  "than wall time on a shared machine). ORT CSE: ONNX Runtime's CommonSubexpressionElimination transformer.",
].join("\n")

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const caseScript = fileURLToPath(new URL("./lora-step.bench.mjs", import.meta.url))
  const steps = Number(process.env.BENCH_STEPS ?? 1)
  const rows = []
  for (const name of (process.env.BENCH_SIZES ?? "tiny").split(",")) {
    const { needGiB, ...shape } = sizes[name]
    for (const [label, extra] of memoryCases) {
      const load = loadAverage()
      const r =
        availableGiB() < needGiB
          ? { skipped: `skipped: ${availableGiB().toFixed(1)} GiB available, needs ${needGiB}` }
          : await runChild(process.execPath, [
              caseScript,
              "--case",
              JSON.stringify({ ...shape, steps, ...extra }),
            ])
      process.stderr.write(`${name} ${label}: ${JSON.stringify(r)}\n`)
      rows.push(memoryRow(name, label, r, load))
    }
  }
  await writeReport(
    `train-lora-step-memory-${process.env.BENCH_SIZES ?? "tiny"}`,
    "LoRA training step on ONNX Runtime: memory settings",
    memoryNotes,
    memoryColumns,
    rows,
  )
}
