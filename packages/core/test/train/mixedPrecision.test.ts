import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  castHostFloat,
  type DeviceBuffer,
  type HostTensor,
  hostTensor,
  Reference,
  roundToBF16,
  roundToF16,
} from "../../src/index.js"
import { tinyLoraStep, tinyLoraStepFeeds } from "../models/tinyLoraStep.js"

type Feeds = ReturnType<typeof tinyLoraStepFeeds>

/** The step's loss and LoRA gradients on the reference executor, base weights uploaded as the graph holds them. */
const runOnReference = (step: ReturnType<typeof tinyLoraStep>, feeds: Feeds) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const backend = Reference.makeReferenceBackend()
        const outputs = Object.fromEntries([step.loss, ...step.grads].map((t, i) => [`out${i}`, t]))
        const program = yield* backend.compile({ outputs })
        const states: Record<string, DeviceBuffer> = {}
        let baseBytes = 0
        for (const spec of program.states) {
          const f32 = hostTensor("f32", spec.shape, Float32Array.from(feeds[spec.name]!))
          const host: HostTensor = castHostFloat(f32, spec.dtype)
          if (step.scope.manifest().has(spec.name)) baseBytes += host.data.byteLength
          states[spec.name] = yield* backend.upload(host)
        }
        const inputs = Object.fromEntries(
          program.inputs.map((spec) => {
            const data = feeds[spec.name]!
            return [
              spec.name,
              spec.dtype === "i32"
                ? hostTensor("i32", spec.shape, Int32Array.from(data))
                : hostTensor("f32", spec.shape, Float32Array.from(data)),
            ]
          }),
        )
        const out = yield* program.run(inputs, states)
        return {
          values: [step.loss, ...step.grads].map((_, i) => Float64Array.from(out[`out${i}`]!.data)),
          baseBytes,
        }
      }),
    ),
  )

const largest = (xs: ArrayLike<number>) => Math.max(...Array.from(xs, Math.abs), 1e-30)

/** max |a − b| over each output, relative to that output's largest |b|. */
const relativeErrors = (a: ReadonlyArray<ArrayLike<number>>, b: ReadonlyArray<ArrayLike<number>>) =>
  b.map((truth, k) => {
    let worst = 0
    for (let i = 0; i < truth.length; i++) worst = Math.max(worst, Math.abs(a[k]![i]! - truth[i]!))
    return worst / largest(truth)
  })

// Half rounding moves each weight by up to u (2^-11 for f16, 2^-8 for bf16) of itself; through the tiny
// step that moves the loss and gradients by up to ~35 u of their scale, so 64 u is the stated tolerance.
const plain = tinyLoraStep(false)
const feeds = tinyLoraStepFeeds(plain.scope, plain.network)
const f32Step = runOnReference(plain, feeds)

describe.each([
  ["f16", roundToF16, 2 ** -11],
  ["bf16", roundToBF16, 2 ** -8],
] as const)("mixed precision with %s base weights", (storage, round, u) => {
  it("is f32 math on weights rounded to half (an f64 evaluation agrees), close to the f32 step, with half the bytes", async () => {
    const mixed = tinyLoraStep(false, storage)
    expect([...mixed.scope.manifest().values()].every((e) => e.dtype === storage)).toBe(true)
    const rounded: Feeds = { ...feeds }
    for (const key of plain.scope.manifest().keys())
      rounded[key] = Float64Array.from(feeds[key]!, (v) => round(Math.fround(v)))
    const truth = Reference.evaluateExact([plain.loss, ...plain.grads], rounded)
    const half = await runOnReference(mixed, feeds)
    // f32 rounding on store through the whole step: a few f32 ulps of each output's scale.
    for (const error of relativeErrors(half.values, truth)) expect(error).toBeLessThan(2e-5)
    const f32 = await f32Step
    const errors = relativeErrors(half.values, f32.values)
    for (const error of errors) expect(error).toBeLessThan(64 * u)
    // The rounding is what moves it, and it does move it.
    expect(Math.max(...errors)).toBeGreaterThan(u)
    expect(half.baseBytes * 2).toBe(f32.baseBytes)
  })
})
