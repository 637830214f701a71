// Peak RSS of one AdamW update on ONNX Runtime, by how the moments are laid out (ADR 0013): "per-tensor" (the
// update before moments were packed, written out here), "packed" (core's adamW: vectors of at most 2²⁴ elements)
// or "one-vector" (core's adamW without the bound). The gradients are inputs, the parameters and moments states.
// Each layout in its own process. Run: npm run build && node bench/train/adamw-memory.bench.mjs [tensors] [elements]
// (default 64 tensors of 1 M elements, 244 MiB a copy). One case alone: … --case per-tensor 64 1000000
import { fileURLToPath } from "node:url"
import { runChild } from "../lib/child.mjs"

const runCase = async (layout, count, size) => {
  const core = await import("@danlu/core")
  const { createOnnxBackend } = await import("@danlu/backend-onnx")
  const { T } = core
  const params = Array.from({ length: count }, (_, i) => T.state(`p${i}`, [size]))
  const grads = params.map((_, i) => T.input(`g${i}`, [size]))
  const [lr, step] = [T.input("lr", []), T.input("step", [])]
  let updates = {}
  if (layout === "per-tensor") {
    const c1 = T.sub(1, T.exp(T.mul(step, Math.log(0.9))))
    const c2 = T.sub(1, T.exp(T.mul(step, Math.log(0.999))))
    const [decay, stepSize, root] = [T.sub(1, T.mul(lr, 0.01)), T.div(lr, c1), T.sqrt(c2)]
    params.forEach((p, i) => {
      const [m, v] = [T.state(`m${i}`, [size]), T.state(`v${i}`, [size])]
      const m1 = T.add(T.mul(m, 0.9), T.mul(grads[i], 0.1))
      const v1 = T.add(T.mul(v, 0.999), T.mul(T.square(grads[i]), 0.001))
      const denominator = T.add(T.div(T.sqrt(v1), root), 1e-8)
      Object.assign(updates, {
        [`p${i}`]: T.sub(T.mul(p, decay), T.mul(stepSize, T.div(m1, denominator))),
        [`m${i}`]: m1,
        [`v${i}`]: v1,
      })
    })
  } else {
    const trainables = params.map((param, i) => ({ param, grad: grads[i] }))
    updates = core.adamW(trainables, { lr, step }, layout === "one-vector" ? { packElements: Infinity } : {})
  }
  const backend = await createOnnxBackend({ intraOpThreads: 2 })
  const program = await backend.compile({ outputs: {}, updates })
  const filled = (spec, value) => ({
    dtype: "f32",
    shape: spec.shape,
    data: new Float32Array(spec.shape.reduce((a, b) => a * b, 1)).fill(value),
  })
  const states = {}
  for (const spec of program.states)
    states[spec.name] = await backend.upload(filled(spec, /^v\d|exp_avg_sq/.test(spec.name) ? 1e-4 : 0.01))
  const inputs = Object.fromEntries(program.inputs.map((spec) => [spec.name, filled(spec, 0.02)]))
  const beforeMiB = process.resourceUsage().maxRSS / 1024
  for (let k = 1; k <= 3; k++) await program.run({ ...inputs, step: filled({ shape: [] }, k) }, states)
  await backend.close()
  process.stdout.write(
    `${JSON.stringify({ beforeMiB, peakRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`,
  )
}

if (process.argv[2] === "--case")
  await runCase(process.argv[3], Number(process.argv[4]), Number(process.argv[5]))
else {
  const [count, size] = [Number(process.argv[2] ?? 64), Number(process.argv[3] ?? 1_000_000)]
  const self = fileURLToPath(import.meta.url)
  process.stdout.write(
    `AdamW update, ${count} tensors of ${size} elements (${((count * size * 4) / 2 ** 20).toFixed(0)} MiB a copy)\n`,
  )
  for (const layout of ["per-tensor", "packed", "one-vector"]) {
    const r = await runChild(process.execPath, [self, "--case", layout, String(count), String(size)])
    process.stdout.write(
      `${layout}: peak RSS ${r.peakRssMiB.toFixed(0)} MiB (${r.beforeMiB.toFixed(0)} MiB before the steps)\n`,
    )
  }
}
