import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import sharp from "sharp"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { benchChartSvg } from "../src/bench/benchChart.js"
import type { BenchReport } from "../src/commands/bench.js"
import { runCli } from "./runCli.js"

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-bench-"))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe("danlu bench", () => {
  it("times every workload on the reference backend, as JSON and as a chart", async () => {
    const chart = join(dir, "bench.png")
    const { ok, output } = await runCli([
      "bench",
      "--backend",
      "reference",
      "--rounds",
      "1",
      "--json",
      "--chart",
      chart,
    ])
    expect(ok).toBe(true)
    const report = JSON.parse(output) as BenchReport
    expect(report.size).toBe("tiny")
    expect(report.skipped).toEqual([])
    expect(report.results.map((r) => r.workload)).toEqual([
      "UNet forward",
      "LoRA training step",
      "VAE decode",
      "sampling step",
    ])
    for (const r of report.results) {
      expect(r.backend).toBe("reference")
      expect(r.device.length).toBeGreaterThan(0)
      expect(r.medianMs).toBeGreaterThan(0)
      expect(r.perSecond).toBeCloseTo(1000 / r.medianMs, 9)
    }
    const png = await readFile(chart)
    const meta = await sharp(png).metadata()
    expect(meta.format).toBe("png")
    expect(meta.width).toBe(760)
  }, 120_000)

  it("draws one bar per result, each workload scaled to its slowest backend", () => {
    const svg = benchChartSvg("t", [
      { workload: "UNet forward", backend: "a", ms: 10 },
      { workload: "UNet forward", backend: "b", ms: 40 },
      { workload: "VAE decode", backend: "a", ms: 2 },
    ])
    const widths = [...svg.matchAll(/<rect x="170" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]))
    expect(widths).toEqual([120, 480, 480])
  })

  it("says why a backend is not measured, and refuses an unknown one", async () => {
    const sd15 = await runCli(["bench", "--backend", "reference", "--size", "sd15"])
    expect(sd15.ok).toBe(true)
    expect(sd15.output).toContain("✗ reference: the f64 reference runs the tiny size only")
    const unknown = await runCli(["bench", "--backend", "cuda-imaginary"])
    expect(unknown.ok).toBe(false)
    expect(unknown.error?.message).toBe("unknown backend cuda-imaginary; use reference, onnxruntime, webgpu")
  })
})
