/// <reference types="node" />
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { CheckpointFormatError } from "../../src/io/errors.js"
import { adamWOptimizer, momentNames } from "../../src/optim/adamW.js"
import { makeOptimizer } from "../../src/optim/makeOptimizer.js"
import { kohyaTrainSink, readTrainState } from "../../src/platform/node/index.js"
import { type HostTensor, hostTensor } from "../../src/tensor/hostTensor.js"
import { startProgress } from "../../src/train/loop.js"

const folder = mkdtempSync(join(tmpdir(), "danlu-train-state-"))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

const f32 = (...values: Array<number>) => hostTensor("f32", [values.length], Float32Array.from(values))

/** Writes `states` as a resumable state, as a run's sink does; returns its folder. */
const saveState = (name: string, states: Record<string, HostTensor>) =>
  Effect.runPromise(
    kohyaTrainSink({
      outputDir: folder,
      outputName: name,
      savePrecision: "F32",
      networkStates: [],
      modules: () => [],
      metadata: () => ({}),
    }).saveState(
      {
        kind: "final",
        epoch: 1,
        step: 2,
        read: (names) => Effect.succeed(Object.fromEntries(names.map((n) => [n, states[n]!]))),
      },
      Object.keys(states),
      startProgress,
    ),
  )

const groups = [
  [
    { name: "a", shape: [2], dtype: "f32" as const },
    { name: "b", shape: [1], dtype: "f32" as const },
  ],
  [{ name: "c", shape: [2], dtype: "f32" as const }],
]

/** A state saved before AdamW packed its moments: one pair per parameter. */
const perParameter = {
  a: f32(1, 2),
  b: f32(3),
  c: f32(4, 5),
  "optimizer.a.exp_avg": f32(0.1, 0.2),
  "optimizer.b.exp_avg": f32(0.3),
  "optimizer.c.exp_avg": f32(0.4, 0.5),
  "optimizer.a.exp_avg_sq": f32(0.01, 0.02),
  "optimizer.b.exp_avg_sq": f32(0.03),
  "optimizer.c.exp_avg_sq": f32(0.04, 0.05),
}

describe("readTrainState with the run's optimizer", () => {
  it("packs AdamW's per-parameter moments of an older state into each group's vectors", async () => {
    const path = await saveState("old", perParameter)
    const { states } = await Effect.runPromise(readTrainState(path, { optimizer: adamWOptimizer(), groups }))
    expect(Object.keys(states).sort()).toEqual(
      ["a", "b", "c", momentNames(0).m, momentNames(0).v, momentNames(1).m, momentNames(1).v].sort(),
    )
    expect(Array.from(states[momentNames(0).m]!.data)).toEqual(Array.from(Float32Array.of(0.1, 0.2, 0.3)))
    expect(Array.from(states[momentNames(1).v]!.data)).toEqual(Array.from(Float32Array.of(0.04, 0.05)))
    // Another optimizer's per-parameter states (Lion's exp_avg) are its own layout and stay as saved.
    const lion = await Effect.runPromise(readTrainState(path, { optimizer: makeOptimizer("Lion"), groups }))
    expect(Object.keys(lion.states).sort()).toEqual(Object.keys(perParameter).sort())
  })

  it("refuses a state with the moments of only some of a group's parameters, naming the file", async () => {
    const { "optimizer.b.exp_avg": _, ...partial } = perParameter
    const path = await saveState("partial", partial)
    const exit = await Effect.runPromiseExit(readTrainState(path, { optimizer: adamWOptimizer(), groups }))
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit)
      ? (exit.cause.reasons.find((reason) => reason._tag === "Fail") as { error: unknown } | undefined)?.error
      : undefined
    expect(error).toBeInstanceOf(CheckpointFormatError)
    expect((error as CheckpointFormatError).message).toBe(
      `${join(path, "state.safetensors")}: the saved state has AdamW's exp_avg for 1 of the 2 parameters of group 0`,
    )
  })
})
