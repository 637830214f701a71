// Writes a benchmark's results as JSON (for machines) and a Markdown table (for people) in bench/results/.
import { mkdir, rename, writeFile } from "node:fs/promises"
import { cpus, totalmem } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "results")

export const machine = () => ({
  cpu: cpus()[0]?.model.trim() ?? "unknown",
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
})

const atomicWrite = async (path, text) => {
  await writeFile(`${path}.tmp`, text)
  await rename(`${path}.tmp`, path)
}

/** rows: array of objects with the same keys; columns: [key, header] pairs. */
export const writeReport = async (name, title, notes, columns, rows) => {
  await mkdir(resultsDir, { recursive: true })
  const info = machine()
  await atomicWrite(
    join(resultsDir, `${name}.json`),
    `${JSON.stringify({ name, machine: info, rows }, null, 2)}\n`,
  )
  const header = `| ${columns.map(([, h]) => h).join(" | ")} |\n|${columns.map(() => "---").join("|")}|`
  const body = rows.map((r) => `| ${columns.map(([k]) => r[k]).join(" | ")} |`).join("\n")
  const machineLine = `Machine: ${info.cpu}, ${info.cores} cores, ${info.memoryGiB} GiB, Node ${info.node}, ${info.date}.`
  const markdown = `# ${title}\n\n${notes}\n\n${machineLine}\n\n${header}\n${body}\n`
  await atomicWrite(join(resultsDir, `${name}.md`), markdown)
  process.stdout.write(markdown)
}

/** Median wall time in ms of `rounds` runs of `f` (after one warm-up run). */
export const medianMs = async (rounds, f) => {
  await f()
  const times = []
  for (let i = 0; i < rounds; i++) {
    const start = performance.now()
    await f()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]
}
