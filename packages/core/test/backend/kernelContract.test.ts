import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  type DeviceBuffer,
  type Graph,
  hostTensor,
  type Kernel,
  type KernelDevice,
  type KernelOp,
  makeKernelBackend,
  planExecution,
  Reference,
  T,
} from "../../src/index.js"
import {
  refBytes,
  referenceSizeClasses,
  refFromHost,
  refToHost,
  refWriteHost,
} from "../../src/reference/storage.js"

type Buf = Float64Array

/** What the fake GPU keeps per node: its kernel, like a pipeline with its parameters. */
interface FakeLaunch {
  readonly kernel: Kernel<never, Buf>
}

/** A recorded command list: each launch bound to its buffers, then the update copies. */
type FakeRecording = ReadonlyArray<() => void>

/**
 * A device that records commands and replays them later, as a GPU does, counting each stage. Its kernels
 * are the reference's, so the numbers it computes are checked against plain arithmetic.
 */
const recordingDevice = () => {
  const counts = { launched: 0, recorded: 0, replayed: 0, allocated: 0, uploaded: 0, released: 0, live: 0 }
  const launcher =
    (op: KernelOp) =>
    (node: unknown): FakeLaunch => {
      void node
      counts.launched++
      return { kernel: Reference.referenceKernels[op] as Kernel<never, Buf> }
    }
  const device: KernelDevice<Buf, FakeLaunch, FakeRecording> = {
    name: "recording",
    launchers: Object.fromEntries(
      Object.keys(Reference.referenceKernels).map((op) => [op, launcher(op as KernelOp)]),
    ) as unknown as KernelDevice<Buf, FakeLaunch>["launchers"],
    fused: {},
    poolKey: ({ shape }) => String(shape.reduce((a, b) => a * b, 1)),
    sizeClasses: {
      classOf: () => "f64",
      sizeOf: referenceSizeClasses.sizeOf,
      view: (buffer, spec) => referenceSizeClasses.view(buffer, spec) as Buf,
    },
    bytesOf: ({ dtype, shape }) => refBytes(dtype, shape),
    allocate: ({ shape }) => {
      counts.allocated++
      counts.live++
      return new Float64Array(shape.reduce((a, b) => a * b, 1))
    },
    release: () => {
      counts.released++
      counts.live--
    },
    fromHost: (tensor) => {
      counts.uploaded++
      counts.live++
      return refFromHost(tensor) as Buf
    },
    write: refWriteHost,
    toHost: async (buffer, { dtype, shape }) => refToHost(buffer, dtype, shape),
    record: (launches, updates) => {
      counts.recorded++
      return [
        ...launches.map(
          ({ node, launch, inputs, output }) =>
            () =>
              launch.kernel(node as never, inputs, output),
        ),
        ...updates.map(
          ({ from, to }) =>
            () =>
              to.set(from),
        ),
      ]
    },
    replay: (recording) => {
      counts.replayed++
      for (const command of recording) command()
    },
  }
  return { device, counts }
}

const backendOf = (device: KernelDevice<Buf, FakeLaunch, FakeRecording>, cachedPrograms = 4) =>
  makeKernelBackend(device, Reference.referenceCapabilities, Effect.die("not described"), { cachedPrograms })

/** Bytes of a plan's activation slots: every slot but the states. */
const activationBytes = (device: KernelDevice<Buf, FakeLaunch, FakeRecording>, graph: Graph) => {
  const plan = planExecution(device, graph)
  const states = new Set(plan.stateSlots.values())
  return plan.slotSpecs.reduce((sum, spec, slot) => (states.has(slot) ? sum : sum + device.bytesOf(spec)), 0)
}

const f32 = (values: ReadonlyArray<number>) => hostTensor("f32", [values.length], Float32Array.from(values))

/** y = Σ exp(x·w), w ← w·0.5: one input, one state and its update. */
const decaying = (n: number): Graph => {
  const w = T.state("w", [n])
  return { outputs: { y: T.sum(T.exp(T.mul(T.input("x", [n]), w))) }, updates: { w: T.mul(w, 0.5) } }
}
const expected = (x: ReadonlyArray<number>, w: ReadonlyArray<number>) =>
  x.reduce((total, xi, i) => total + Math.exp(Math.fround(xi * w[i]!)), 0)

describe("the kernel backend contract", () => {
  it("launches each node once at compile time, records on the first run and replays that recording after", async () => {
    const { device, counts } = recordingDevice()
    const backend = backendOf(device)
    const graph = decaying(4)
    const nodes = planExecution(device, graph).steps.length
    const runs = 5
    const results = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const program = yield* backend.compile(graph)
          const launchedAtCompile = counts.launched
          const w = yield* backend.upload(f32([1, 1, 1, 1]))
          const ys: Array<number> = []
          for (let i = 0; i < runs; i++) {
            const out = yield* program.run({ x: f32([0.1 * i, 0.2, 0.3, 0.4]) }, { w })
            ys.push(out.y!.data[0]!)
          }
          return { launchedAtCompile, ys }
        }),
      ),
    )
    expect(results.launchedAtCompile).toBe(nodes)
    expect(counts).toMatchObject({ launched: nodes, recorded: 1, replayed: runs })
    results.ys.forEach((y, i) => {
      const w = 0.5 ** i
      expect(y).toBeCloseTo(expected([0.1 * i, 0.2, 0.3, 0.4], [w, w, w, w]), 5)
    })
  })

  it("records again only when a run binds another buffer", async () => {
    const { device, counts } = recordingDevice()
    const backend = backendOf(device)
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const program = yield* backend.compile(decaying(2))
          const [a, b] = [yield* backend.upload(f32([1, 2])), yield* backend.upload(f32([3, 4]))]
          const states: ReadonlyArray<DeviceBuffer> = [a, a, b, b, a]
          for (const w of states) yield* program.run({ x: f32([1, 1]) }, { w })
        }),
      ),
    )
    expect(counts).toMatchObject({ recorded: 3, replayed: 5 })
  })

  it("takes every program's activations from one pool: as large as the largest program's, freed with the last", async () => {
    const { device, counts } = recordingDevice()
    // No idle programs kept, so the pool goes when the scope closes.
    const backend = backendOf(device, 0)
    const values = (n: number) => Array.from({ length: n }, (_, i) => (i - n / 2) / n)
    const report = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const small = yield* backend.compile(decaying(8))
          const large = yield* backend.compile(decaying(32))
          const [wSmall, wLarge] = [
            yield* backend.upload(f32(values(8))),
            yield* backend.upload(f32(values(32))),
          ]
          const ySmall = (yield* small.run({ x: f32(values(8)) }, { w: wSmall })).y!.data[0]!
          const afterSmall = { held: backend.activations.heldBytes(), allocated: counts.allocated }
          const yLarge = (yield* large.run({ x: f32(values(32)) }, { w: wLarge })).y!.data[0]!
          const afterLarge = { held: backend.activations.heldBytes(), allocated: counts.allocated }
          // The pool grew under the small program, so it records again on buffers that are larger now.
          const ySmallAgain = (yield* small.run({ x: f32(values(8)) }, { w: wSmall })).y!.data[0]!
          return {
            afterSmall,
            afterLarge,
            afterBoth: { held: backend.activations.heldBytes(), allocated: counts.allocated },
            recorded: counts.recorded,
            ys: [ySmall, yLarge, ySmallAgain],
          }
        }),
      ),
    )
    const [smallBytes, largeBytes] = [
      activationBytes(device, decaying(8)),
      activationBytes(device, decaying(32)),
    ]
    expect(report.afterSmall.held).toBe(smallBytes)
    expect(report.afterLarge.held).toBe(largeBytes)
    expect(report.afterLarge.held).toBeLessThan(smallBytes + largeBytes)
    expect(report.afterBoth).toEqual(report.afterLarge)
    expect(report.recorded).toBe(3)
    expect(report.ys[0]).toBeCloseTo(expected(values(8), values(8)), 5)
    expect(report.ys[1]).toBeCloseTo(expected(values(32), values(32)), 5)
    expect(report.ys[2]).toBeCloseTo(
      expected(
        values(8),
        values(8).map((w) => w * 0.5),
      ),
      5,
    )
    expect(counts.live).toBe(0)
    expect(counts.released).toBe(counts.allocated + counts.uploaded)
  })

  it("reads an output that is an updated state as it was before the run", async () => {
    const backend = Reference.makeReferenceBackend()
    const w = T.state("w", [2])
    const result = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const program = yield* backend.compile({ outputs: { before: w }, updates: { w: T.mul(w, 2) } })
          const weights = yield* backend.upload(f32([1, 3]))
          const outputs = [yield* program.run({}, { w: weights }), yield* program.run({}, { w: weights })]
          return {
            outputs: outputs.map((o) => Array.from(o.before!.data)),
            after: yield* backend.download(weights),
          }
        }),
      ),
    )
    expect(result.outputs).toEqual([
      [1, 3],
      [2, 6],
    ])
    expect(Array.from(result.after.data)).toEqual([4, 12])
  })
})
