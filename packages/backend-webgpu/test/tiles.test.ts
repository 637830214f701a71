import { type Backend, T } from "@danlu/core"
import { checkCase, defaultTolerances, type OpCase } from "@danlu/core/testing"
import { ManagedRuntime } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { WebGpu } from "../src/index.js"
import { unavailableReason } from "./adapter.js"

const skip = await unavailableReason()

// The conformance shapes fit in one tile of every kernel. These cross the boundaries: GEMM tiles of 64
// and K slices of 16, several attention row blocks and key tiles, reductions longer than a workgroup.
const f = (...shape: Array<number>) => ({ shape })
const cases: ReadonlyArray<OpCase> = [
  {
    name: "matmul across tiles with a broadcast batch",
    inputs: [f(2, 1, 130, 37), f(3, 37, 70)],
    build: ([a, b]) => T.matmul(a!, b!),
  },
  {
    name: "conv2d with 70 output channels over 2×9×9 pixels, stride 2",
    inputs: [f(2, 6, 17, 17), f(70, 6, 3, 3)],
    build: ([x, w]) => T.conv2d(x!, w!, { stride: 2, padding: 1 }),
  },
  {
    name: "attention over 3 row blocks and several key tiles, with a mask",
    inputs: [f(2, 150, 16), f(2, 75, 16), f(2, 75, 24), f(150, 75)],
    build: ([q, k, v, mask]) => T.attention(q!, k!, v!, { mask: mask! }),
  },
  {
    name: "attention with a head size that shrinks the key tile",
    inputs: [f(1, 70, 160), f(1, 40, 160), f(1, 40, 160)],
    build: ([q, k, v]) => T.attention(q!, k!, v!),
  },
  { name: "softmax over 300", inputs: [f(3, 300)], build: ([x]) => T.softmax(x!, -1) },
  {
    name: "groupNorm over groups of 2×100",
    inputs: [f(2, 8, 10, 10), f(8), f(8)],
    build: ([x, w, b]) => T.groupNorm(x!, 4, w!, b!),
  },
  { name: "max over 2×500", inputs: [f(4, 2, 500)], build: ([x]) => T.max(x!, [1, 2]) },
]

describe.skipIf(skip !== undefined)(
  "webgpu kernels across tile boundaries (f32, forward and backward)",
  () => {
    const runtime = ManagedRuntime.make(WebGpu.layer())
    afterAll(() => runtime.dispose())
    for (const opCase of cases) {
      it(opCase.name, async () => {
        const tolerance = { atol: defaultTolerances.f32.atol * 10, rtol: defaultTolerances.f32.rtol * 10 }
        expect(
          await checkCase(
            runtime as ManagedRuntime.ManagedRuntime<Backend, unknown>,
            opCase,
            "f32",
            tolerance,
          ),
        ).toEqual([])
      })
    }
  },
)
