// Runs one benchmark case in a child process (so its peak RSS is its own) and reads the JSON line it prints
// last. The machines are shared: a watchdog kills the child before the machine runs out of memory (there is
// no swap, so the kernel's OOM killer would pick any process on it), and the case is reported as skipped.
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"

/** MemAvailable from /proc/meminfo, in GiB (what can be allocated without swapping). */
export const availableGiB = () => {
  const line = readFileSync("/proc/meminfo", "utf8")
    .split("\n")
    .find((l) => l.startsWith("MemAvailable:"))
  return Number(line?.split(/\s+/)[1] ?? 0) / 2 ** 20
}

/** 1-minute load average, for the report's honesty line. */
export const loadAverage = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0])

/**
 * `command args…` with `env` added; resolves to the last JSON line of its stdout, or to
 * `{ skipped: reason }` when it fails or the watchdog stops it (below `floorGiB` available).
 */
export const runChild = (command, args, { env = {}, floorGiB = 1.5 } = {}) =>
  new Promise((resolve) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    })
    let stdout = ""
    let killedFor
    child.stdout.on("data", (chunk) => {
      stdout += chunk
    })
    const watchdog = setInterval(() => {
      if (availableGiB() < floorGiB) {
        killedFor = `stopped: under ${floorGiB} GiB of memory left on the machine`
        child.kill("SIGKILL")
      }
    }, 250)
    child.on("close", (code, signal) => {
      clearInterval(watchdog)
      const last = stdout.trim().split("\n").at(-1) ?? ""
      if (killedFor) resolve({ skipped: killedFor })
      else if (code !== 0) resolve({ skipped: `failed (${signal ?? `exit ${code}`})` })
      else resolve(JSON.parse(last))
    })
  })
