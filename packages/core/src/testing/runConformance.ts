import { Effect, type Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Backend, type BackendShape, type DeviceBuffer } from "../backend/Backend.js"
import type { OpName } from "../ops/opName.js"
import { compileExact } from "../reference/evaluate.js"
import { makeReferenceBackend } from "../reference/ReferenceBackend.js"
import { refFromHost } from "../reference/storage.js"
import type { DType } from "../tensor/dtype.js"
import type { HostTensor } from "../tensor/hostTensor.js"
import { blockCases } from "./blocks.js"
import { buildCaseGraph } from "./caseGraph.js"
import { conformanceCases } from "./cases.js"
import { compareTensor, defaultTolerances, type Tolerance } from "./compare.js"
import type { OpCase } from "./opCase.js"
import { trainingStepGraph, trainingStepInputs, trainingStepState } from "./trainingStep.js"

export interface ConformanceOptions<E> {
  /** The backend's name in test titles and in `DANLU_REQUIRE_BACKENDS`. */
  readonly name: string
  readonly layer: Layer.Layer<Backend, E>
  readonly dtypes?: ReadonlyArray<"f32" | "f16" | "bf16">
  readonly tolerances?: Partial<Record<DType, Tolerance>>
  /** Ops this backend cannot run at all, each with the reason. */
  readonly skip?: Partial<Record<OpName, string>>
  /** Dtypes in which the whole-block cases cannot run, with the reason. */
  readonly skipBlocks?: Partial<Record<DType, string>>
  /** Ops this backend cannot run in one dtype, each with the reason. */
  readonly skipInDType?: Partial<Record<DType, Partial<Record<OpName, string>>>>
}

/**
 * Whether a missing device fails the run instead of skipping it: `DANLU_REQUIRE_BACKENDS=all` or a
 * comma-separated list of backend names. CI sets it where the device must exist.
 */
export const backendRequired = (name: string): boolean => {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
  const list = (env?.DANLU_REQUIRE_BACKENDS ?? "").split(",").map((s) => s.trim())
  return list.includes("all") || list.includes(name)
}

/** Every op case, with the op it exercises. */
export const allCases = (): ReadonlyArray<readonly [OpName, OpCase]> =>
  (Object.entries(conformanceCases) as Array<[OpName, ReadonlyArray<OpCase>]>).flatMap(([op, cases]) =>
    cases.map((c) => [op, c] as const),
  )

/**
 * Registers the conformance suite for one backend with vitest: every op case, forward and VJP, on fresh
 * inputs, against the reference evaluated in f64, with a tolerance per dtype.
 */
export const runConformance = <E>(options: ConformanceOptions<E>): void => {
  const dtypes = options.dtypes ?? ["f32"]
  describe(`conformance: ${options.name}`, () => {
    let runtime: ManagedRuntime.ManagedRuntime<Backend, E> | undefined
    let unavailable: string | undefined

    beforeAll(async () => {
      runtime = ManagedRuntime.make(options.layer)
      const exit = await runtime.runPromiseExit(Effect.flatMap(Backend, (backend) => backend.describe))
      if (exit._tag === "Failure") unavailable = String(exit.cause)
    })
    afterAll(async () => {
      await runtime?.dispose()
    })

    const available = (context: { skip: (note?: string) => void }): void => {
      if (!unavailable) return
      if (backendRequired(options.name))
        throw new Error(`${options.name} must be available here: ${unavailable}`)
      context.skip(`${options.name} unavailable: ${unavailable}`)
    }

    for (const dtype of dtypes) {
      for (const [op, opCase] of [...allCases(), ...blockCases.map((c) => ["block", c] as const)]) {
        if (opCase.dtypes && !opCase.dtypes.includes(dtype)) continue
        const reason =
          op === "block"
            ? options.skipBlocks?.[dtype]
            : (options.skip?.[op] ?? options.skipInDType?.[dtype]?.[op])
        const title = `${dtype} ${op}: ${opCase.name}${reason ? ` (skipped: ${reason})` : ""}`
        it.skipIf(reason !== undefined)(title, async (context) => {
          available(context)
          const tolerance = scaled(
            options.tolerances?.[dtype] ?? defaultTolerances[dtype],
            opCase.toleranceScale ?? 1,
          )
          const problems = await checkCase(runtime!, opCase, dtype, tolerance)
          expect(problems).toEqual([])
        })
      }
    }

    it("f32 training step (forward, backward, AdamW) run 5 times matches the reference", async (context) => {
      available(context)
      const reference = await Effect.runPromise(runTrainingSteps(makeReferenceBackend(), 5))
      const actual = await runtime!.runPromise(
        Effect.flatMap(Backend, (backend) => runTrainingSteps(backend, 5)),
      )
      const tolerance = scaled(options.tolerances?.f32 ?? defaultTolerances.f32, 10)
      const problems = Object.entries(reference).flatMap(([name, expected]) => {
        const problem = compareTensor(
          name,
          actual[name]!,
          { ...expected, values: Array.from(expected.data) },
          tolerance,
        )
        return problem ? [problem] : []
      })
      expect(problems).toEqual([])
    })
  })
}

/** Runs `trainingStepGraph` for `steps` steps with state on the device; returns each loss and the final state. */
export const runTrainingSteps = (backend: BackendShape, steps: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const program = yield* backend.compile(trainingStepGraph())
      const states: Record<string, DeviceBuffer> = {}
      for (const [name, value] of Object.entries(trainingStepState()))
        states[name] = yield* backend.upload(value)
      const results: Record<string, HostTensor> = {}
      for (let k = 1; k <= steps; k++) {
        const out = yield* program.run(trainingStepInputs(k), states)
        results[`loss ${k}`] = out.loss!
      }
      for (const [name, buffer] of Object.entries(states)) results[name] = yield* backend.download(buffer)
      return results
    }),
  )

const scaled = (t: Tolerance, k: number): Tolerance => ({ atol: t.atol * k, rtol: t.rtol * k })

/** Runs one case on the backend and on the f64 reference; returns the mismatches. */
export const checkCase = async <E>(
  runtime: ManagedRuntime.ManagedRuntime<Backend, E>,
  opCase: OpCase,
  dtype: DType,
  tolerance: Tolerance,
): Promise<Array<string>> => {
  const { output, gradients, feeds } = buildCaseGraph(opCase, dtype)
  const outputs = Object.fromEntries([["y", output], ...gradients.map((g, i) => [`dx${i}`, g] as const)])
  const truth = compileExact(Object.values(outputs))(
    Object.fromEntries(Object.entries(feeds).map(([name, host]) => [name, refFromHost(host)])),
  )
  const actual = await runtime.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const backend = yield* Backend
        const program = yield* backend.compile({ outputs })
        return yield* program.run(feeds)
      }),
    ),
  )
  return Object.entries(outputs).flatMap(([name, t], i) => {
    const problem = compareTensor(
      name,
      actual[name]!,
      { shape: t.shape, dtype: t.dtype, values: truth[i]! },
      tolerance,
    )
    return problem ? [problem] : []
  })
}
