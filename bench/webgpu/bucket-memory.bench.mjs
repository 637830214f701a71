// Peak device memory of a tiny-UNet LoRA training step (forward, backward, AdamW as one graph) compiled
// for bucket shapes (5 by default) on one WebGPU device, as training keeps one program per aspect bucket, against the
// largest bucket alone. Bytes are counted by wrapping the device's createBuffer and the buffers' destroy;
// the buffers and bind groups made and the process's memory mappings (/proc/self/maps, where Dawn on
// lavapipe keeps one per buffer written at creation and one per bind group) are counted too.
// Each case runs in its own process (its own device); a case that crashes is a row saying so.
// BENCH_LABEL tags the rows (e.g. before/after a change); rows of other labels already in the results are kept.
// Run: npm run build -w @danlu/core -w @danlu/backend-webgpu && node bench/webgpu/bucket-memory.bench.mjs
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { resultsDir, writeReport } from "../lib/report.mjs"

// BENCH_BUCKETS (JSON [[h, w], …]) picks others.
const buckets = JSON.parse(process.env.BENCH_BUCKETS ?? "[[8,8],[8,16],[16,8],[16,16],[16,24]]")

/** Live and peak bytes of every buffer any device creates in this process. */
const countDeviceBytes = async () => {
  const { globals } = await import("webgpu")
  const sizes = new WeakMap()
  const counts = { live: 0, peak: 0, buffers: 0, bindGroups: 0 }
  const { createBuffer, createBindGroup } = globals.GPUDevice.prototype
  globals.GPUDevice.prototype.createBuffer = function (descriptor) {
    const buffer = createBuffer.call(this, descriptor)
    sizes.set(buffer, descriptor.size)
    counts.buffers++
    counts.live += descriptor.size
    counts.peak = Math.max(counts.peak, counts.live)
    return buffer
  }
  globals.GPUDevice.prototype.createBindGroup = function (descriptor) {
    counts.bindGroups++
    return createBindGroup.call(this, descriptor)
  }
  const { destroy } = globals.GPUBuffer.prototype
  globals.GPUBuffer.prototype.destroy = function () {
    counts.live -= sizes.get(this) ?? 0
    sizes.delete(this)
    return destroy.call(this)
  }
  return counts
}

/** One case in this process: compile each bucket's program and run it once, keeping them all. */
const runCase = async (shapes) => {
  const counts = await countDeviceBytes()
  const { createWebGpuBackend } = await import("@danlu/backend-webgpu")
  const { adamW, grad, LoraNetwork, T, tinySd1UNet, unet, unetPrefix, WeightScope } = await import(
    "@danlu/core"
  )
  const session = await createWebGpuBackend()
  const states = {}
  let stateBytes = 0
  const programs = []
  const host = ({ shape }, value) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1))
    for (let i = 0; i < data.length; i++) data[i] = value(i)
    return { dtype: "f32", shape, data }
  }
  const run = async (program) => {
    for (const spec of program.states) {
      if (states[spec.name]) continue
      // Second moments are never negative (AdamW takes their square root).
      const tensor = host(spec, (i) =>
        spec.name.endsWith("exp_avg_sq") ? 1e-6 : 0.02 * Math.sin(i + spec.name.length),
      )
      stateBytes += tensor.data.byteLength
      states[spec.name] = await session.upload(tensor)
    }
    const inputs = Object.fromEntries(
      program.inputs.map((spec) => [
        spec.name,
        host(spec, (i) => (spec.name === "lr" ? 1e-4 : spec.name === "step" ? 1 : Math.cos(i))),
      ]),
    )
    await program.run(inputs, states)
  }
  for (const [h, w] of shapes) {
    const network = LoraNetwork.create({ rank: 4, alpha: 4, components: ["unet"] })
    const scope = WeightScope.root({ adapters: [network.adapter] })
    const x = T.input("x", [1, 4, h, w])
    const target = T.input("target", [1, 4, h, w])
    const eps = unet(scope.at(unetPrefix), tinySd1UNet, {
      x,
      timesteps: T.input("timesteps", [1]),
      context: T.input("context", [1, 8, 32]),
    })
    const loss = T.mean(T.square(T.sub(eps, target)))
    const trainable = [...network.tensors().values()]
    const grads = grad(loss, trainable)
    const updates = adamW(
      trainable.map((param, i) => ({ param, grad: grads[i] })),
      { lr: T.input("lr", []), step: T.input("step", []) },
    )
    const program = await session.compile({ outputs: { loss }, updates })
    programs.push(program)
    await run(program)
  }
  const mappings = readFileSync("/proc/self/maps", "utf8").split("\n").length - 1
  // Printed before closing: Dawn on lavapipe has crashed while tearing down many programs at exit.
  const { peak, live, buffers, bindGroups } = counts
  process.stdout.write(`${JSON.stringify({ peak, held: live, stateBytes, buffers, bindGroups, mappings })}\n`)
  await session.close()
}

if (process.argv[2] === "case") {
  await runCase(JSON.parse(process.argv[3]))
} else {
  const label = process.env.BENCH_LABEL ?? "current"
  const self = fileURLToPath(import.meta.url)
  const cases = [
    { name: "largest bucket alone", shapes: [buckets.at(-1)] },
    { name: `${buckets.length} buckets, all kept`, shapes: buckets },
  ]
  const mib = (bytes) => (bytes / 2 ** 20).toFixed(2)
  const rows = cases.map(({ name, shapes }) => {
    const child = spawnSync(process.execPath, [self, "case", JSON.stringify(shapes)], { encoding: "utf8" })
    const line = child.stdout.trim().split("\n").at(-1)
    if (!line) {
      const crashed = `crashed (${child.signal ?? `exit ${child.status}`})`
      return { label, case: name, peakMiB: crashed, heldMiB: "", statesMiB: "", restMiB: "" }
    }
    const { peak, held, stateBytes, buffers, bindGroups, mappings } = JSON.parse(line)
    return {
      label,
      case: name,
      peakMiB: mib(peak),
      heldMiB: mib(held),
      statesMiB: mib(stateBytes),
      restMiB: mib(peak - stateBytes),
      buffers,
      bindGroups,
      mappings,
    }
  })
  let kept = []
  try {
    const previous = JSON.parse(readFileSync(join(resultsDir, "webgpu-bucket-memory.json"), "utf8"))
    kept = previous.rows.filter((row) => row.label !== label)
  } catch {}
  await writeReport(
    "webgpu-bucket-memory",
    "WebGPU: device memory of bucket programs of a tiny-UNet LoRA training step",
    `Buckets (latent h×w, batch 1): ${buckets.map(([h, w]) => `${h}×${w}`).join(", ")}. Peak: the most bytes of live device buffers at any time; held: after every program ran once, before closing; states: the uploaded weights, LoRA weights and AdamW moments (shared by every program); rest: peak − states (activations, params, readback); buffers and bind groups: how many were made; mappings: the process's memory mappings before closing (Linux caps them at vm.max_map_count, 65 530 by default).`,
    [
      ["label", "build"],
      ["case", "case"],
      ["peakMiB", "peak MiB"],
      ["heldMiB", "held MiB"],
      ["statesMiB", "states MiB"],
      ["restMiB", "peak − states MiB"],
      ["buffers", "buffers made"],
      ["bindGroups", "bind groups made"],
      ["mappings", "memory mappings"],
    ],
    [...kept, ...rows],
  )
}
