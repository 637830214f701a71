import { type ChildProcess, spawn } from "node:child_process"
import { readdir } from "node:fs/promises"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, expect, it } from "vitest"
import { runCli } from "./runCli.js"
import { microTrainingSet, tensorBytes } from "./trainFixtures.js"

const cliRoot = join(dirname(fileURLToPath(import.meta.url)), "..")

let root = ""
let model = ""
let data = ""

beforeAll(async () => {
  ;({ root, model, data } = await microTrainingSet("danlu-train-interrupt-"))
})

// biome-ignore format: one flag and its value per line
const args = (out: string) => [
  "train",
  "--pretrained_model_name_or_path", model,
  "--train_data_dir", data,
  "--output_dir", out,
  "--output_name", "sks",
  "--resolution", "16",
  "--network_dim", "4",
  "--network_alpha", "2",
  "--learning_rate", "1e-2",
  "--train_batch_size", "2",
  "--max_train_steps", "12",
  "--save_state",
  "--save_every_n_steps", "2",
  "--caption_extension", ".txt",
  "--seed", "9",
  "--backend", "onnx",
]

/** `danlu …` in a child process running the TypeScript sources, as a user's terminal would run it. */
const spawnCli = (argv: ReadonlyArray<string>) => {
  const child = spawn(
    process.execPath,
    ["--conditions=@danlu/source", "--import", "./test/support/register.mjs", "src/main.ts", ...argv],
    { cwd: cliRoot, stdio: ["ignore", "pipe", "pipe"] },
  )
  let stderr = ""
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const waitFor = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(stderr)) {
          child.stderr.off("data", check)
          resolve()
        }
      }
      child.stderr.on("data", check)
      void exited.then(() =>
        pattern.test(stderr) ? resolve() : reject(new Error(`exited before ${pattern}:\n${stderr}`)),
      )
      check()
    })
  return { child: child as ChildProcess, exited, waitFor, stderr: () => stderr }
}

const stepState = (name: string) => Number(/-step(\d+)-state$/.exec(name)?.[1] ?? -1)

describe("danlu train, interrupted", () => {
  let uninterrupted: Record<string, Uint8Array> = {}

  beforeAll(async () => {
    const out = join(root, "whole")
    const result = await runCli(args(out))
    expect(result.error).toBeUndefined()
    uninterrupted = await tensorBytes(join(out, "sks.safetensors"))
  }, 240_000)

  it("Ctrl-C finishes the step, writes a state, prints the resume command; resuming ends bit-identical", async () => {
    const out = join(root, "sigint")
    const run = spawnCli(args(out))
    await run.waitFor(/step 5\/12/)
    run.child.kill("SIGINT")
    expect(await run.exited).not.toBe(0)
    const command = /continue with:\n\s+danlu (.+)\n/.exec(run.stderr())?.[1]
    expect(command, run.stderr()).toBeDefined()
    const resumeArgs = [...command!.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) =>
      m[1] !== undefined ? (JSON.parse(`"${m[1]}"`) as string) : m[2]!,
    )
    expect(resumeArgs).toContain("--resume")
    const resumed = await runCli(resumeArgs)
    expect(resumed.error).toBeUndefined()
    expect(await tensorBytes(join(out, "sks.safetensors"))).toEqual(uninterrupted)
  }, 240_000)

  it("kill -9 mid-run leaves every file whole; --resume from the last state ends bit-identical", async () => {
    const out = join(root, "sigkill")
    const run = spawnCli(args(out))
    await run.waitFor(/step 7\/12/)
    run.child.kill("SIGKILL")
    await run.exited
    const files = await readdir(out)
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([])
    for (const file of files.filter((f) => f.endsWith(".safetensors"))) await tensorBytes(join(out, file))
    const states = files.filter((f) => stepState(f) > 0).sort((a, b) => stepState(a) - stepState(b))
    expect(states.length).toBeGreaterThan(0)
    const latest = join(out, states.at(-1)!)
    const resumed = await runCli([...args(out), "--resume", latest])
    expect(resumed.error).toBeUndefined()
    expect(await tensorBytes(join(out, "sks.safetensors"))).toEqual(uninterrupted)
  }, 240_000)
})
