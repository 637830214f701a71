// Bytes the host receives per sampler step, before (host loop: `Sample.sample` over a `denoiserGraph`
// program, which hands back every evaluation's denoised latents) and after (`Sample.sampleOnDevice` over a
// `samplerGraph` program, latents kept as device state), on the reference executor, ONNX Runtime and WebGPU.
// Counted at the Backend API (run outputs and downloads; `countHostTraffic`) and, on WebGPU, as the bytes of
// buffers mapped for reading. The model is core's stub UNet (a few elementwise ops), so the milliseconds
// show the sampler's own cost per step (the update, the transfers) with the UNet taken out.
// Run: npm run build && node bench/sample/latent-traffic.bench.mjs   (BENCH_BACKENDS=reference,onnx,webgpu)
import { writeReport } from "../lib/report.mjs"

const { Effect } = await import("effect")
const { Reference } = await import("@danlu/core")
const { compareDeviceSampling } = await import("@danlu/core/testing")

const backends = (process.env.BENCH_BACKENDS ?? "reference,onnx,webgpu").split(",")
const steps = 20
const latent = 64

/** Bytes of GPU buffers mapped for reading while `f` runs. */
const countMappedReads = async (f) => {
  const { globals } = await import("webgpu")
  const { mapAsync } = globals.GPUBuffer.prototype
  let read = 0
  globals.GPUBuffer.prototype.mapAsync = function (mode, ...rest) {
    if (mode & 1) read += this.size
    return mapAsync.call(this, mode, ...rest)
  }
  try {
    return { value: await f(), read }
  } finally {
    globals.GPUBuffer.prototype.mapAsync = mapAsync
  }
}

const layerOf = async (name) => {
  if (name === "reference") return Reference.layer
  if (name === "onnx") return (await import("@danlu/backend-onnx")).layer
  return (await import("@danlu/backend-webgpu")).WebGpu.layer()
}

const rows = []
for (const name of backends) {
  const layer = await layerOf(name)
  for (const sampler of ["Euler a", "DPM++ 2M"]) {
    const settings = { sampler, steps, seeds: [1], height: latent, width: latent }
    const run = () => Effect.runPromise(compareDeviceSampling(settings).pipe(Effect.provide(layer)))
    await run()
    const { value: r, read } = name === "webgpu" ? await countMappedReads(run) : { value: await run() }
    const evaluations = r.hostTraffic.runs
    const perStep = (t) => ((t.outputBytes + t.downloadBytes) / evaluations).toFixed(0)
    rows.push({
      backend: name,
      sampler,
      latents: `1×4×${latent}×${latent} (${r.host.byteLength} B)`,
      before: perStep(r.hostTraffic),
      after: perStep(r.deviceTraffic),
      mapped: read === undefined ? "—" : `${read} (${(read / r.host.byteLength).toFixed(0)} latents)`,
      equal: r.device.every((v, i) => v === r.host[i]) ? "yes" : "no",
      beforeMs: (r.hostTraffic.ms / evaluations).toFixed(2),
      afterMs: (r.deviceTraffic.ms / evaluations).toFixed(2),
    })
  }
}

await writeReport(
  "sample-latent-traffic",
  "Host bytes per sampler step, host loop against latents on the device",
  [
    `${steps} steps, batch 1, ${latent}² latents (an SD1.5 512² picture), CFG 5, core's stub UNet. "before" is`,
    '`Sample.sample` over a `denoiserGraph` program, "after" `Sample.sampleOnDevice` over a `samplerGraph`',
    "program; bytes per model evaluation that reach the host through the Backend API (run outputs and",
    "downloads, the final latents spread over the run). WebGPU: all bytes of buffers mapped for reading in",
    'one run of both loops. "same latents": the two give identical f32 latents. ms/step: the sampling',
    "loop's wall time per evaluation after a warm-up run (compile excluded; uploads of the initial latents",
    "and the final download included), one run — the machine is shared, read it as an order of magnitude.",
  ].join("\n"),
  [
    ["backend", "backend"],
    ["sampler", "sampler"],
    ["latents", "latents"],
    ["before", "before B/step"],
    ["after", "after B/step"],
    ["mapped", "WebGPU mapped B (both loops)"],
    ["equal", "same latents"],
    ["beforeMs", "before ms/step"],
    ["afterMs", "after ms/step"],
  ],
  rows,
)
