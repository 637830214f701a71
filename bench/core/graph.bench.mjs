// Graph recording, autodiff and planning cost per node, and the generic executor's dispatch overhead per
// node with kernel time excluded (no-op kernels), on graphs of ≥ 10k small nodes.
// Run: npm run build -w @danlu/core && node bench/core/graph.bench.mjs
import {
  grad,
  immediateDevice,
  makeKernelBackend,
  planExecution,
  primitiveOps,
  Reference,
  T,
} from "@danlu/core"
import { Effect } from "effect"
import { medianMs, writeReport } from "../lib/report.mjs"

const nodes = 12_000

/** A chain of tiny elementwise ops: the worst case for per-node overhead. */
const chain = (length) => {
  const x = T.input("x", [4])
  let t = x
  for (let i = 0; i < length / 2; i++) t = T.add(T.mul(t, 1.0001), 0.001)
  return { x, y: T.sum(t) }
}

const noop = () => {}
// Its launches do nothing and its replay makes the calls, so a run costs core's binding and dispatch only.
const noopDevice = immediateDevice(
  {
    name: "no-op",
    allocate: () => ({}),
    bytesOf: () => 4,
    fromHost: () => ({}),
    write: noop,
    toHost: async (_, spec) => ({ ...spec, data: new Float32Array(1) }),
    copy: noop,
    poolKey: ({ dtype, shape }) => `${dtype}:${shape.join("x")}`,
  },
  Object.fromEntries(primitiveOps.filter((op) => op !== "input" && op !== "state").map((op) => [op, noop])),
  {},
)

const perNode = (ms, count) => ((ms * 1000) / count).toFixed(2)
const rows = []

const recordMs = await medianMs(7, () => {
  chain(nodes)
})
rows.push({ what: "record (build the lazy graph)", nodes, perNodeUs: perNode(recordMs, nodes) })

const { x, y } = chain(nodes)
const gradMs = await medianMs(7, () => {
  grad(y, [x])
})
const [gx] = grad(y, [x])
rows.push({ what: "grad (append the backward pass)", nodes, perNodeUs: perNode(gradMs, nodes) })

const planMs = await medianMs(7, () => {
  planExecution(noopDevice, { outputs: { g: gx } })
})
const plan = planExecution(noopDevice, { outputs: { g: gx } })
const planned = plan.steps.length
rows.push({
  what: "plan (order, liveness, buffer slots)",
  nodes: planned,
  perNodeUs: perNode(planMs, planned),
})

const feeds = { x: { dtype: "f32", shape: [4], data: new Float32Array(4) } }
const noopBackend = makeKernelBackend(
  noopDevice,
  { dtypes: ["f32"], fused: [], maxBufferBytes: 1 },
  Effect.die("unused"),
)
const dispatchMs = await Effect.runPromise(
  Effect.scoped(
    Effect.gen(function* () {
      const program = yield* noopBackend.compile({ outputs: { g: gx } })
      return yield* Effect.promise(() => medianMs(15, () => Effect.runPromise(program.run(feeds))))
    }),
  ),
)
rows.push({
  what: "dispatch (generic executor, no-op kernels)",
  nodes: planned,
  perNodeUs: perNode(dispatchMs, planned),
})

const reference = Reference.makeReferenceBackend()
const referenceMs = await Effect.runPromise(
  Effect.scoped(
    Effect.gen(function* () {
      const program = yield* reference.compile({ outputs: { g: gx } })
      return yield* Effect.promise(() => medianMs(7, () => Effect.runPromise(program.run(feeds))))
    }),
  ),
)
rows.push({
  what: "run on the reference executor (4-element kernels)",
  nodes: planned,
  perNodeUs: perNode(referenceMs, planned),
})

await writeReport(
  "core-graph",
  "Core graph overheads per node",
  "A chain of 12,000 tiny elementwise nodes (x·1.0001 + 0.001, repeated) and its gradient. Median of 7–15 runs after a warm-up. Target for dispatch: ≤ 5 µs per node.",
  [
    ["what", "stage"],
    ["nodes", "nodes"],
    ["perNodeUs", "µs per node"],
  ],
  rows,
)
