import {
  Backend,
  type DeviceBuffer,
  type HostTensor,
  hostTensor,
  T,
  toBF16Bits,
  toF16Bits,
} from "@danlu/core"
import { Effect } from "effect"
import { expect, it } from "vitest"
import { layer } from "../src/index.js"

const withBackend = <A, E>(
  f: (backend: Backend["Service"]) => Effect.Effect<A, E, import("effect").Scope.Scope>,
) => Effect.runPromise(Effect.scoped(Effect.flatMap(Backend, f)).pipe(Effect.provide(layer)))

it("uploads and downloads every dtype unchanged (bf16 travels as its bits)", async () => {
  const hosts: Array<HostTensor> = [
    hostTensor("f32", [3], Float32Array.of(1.5, -2, 3e-8)),
    hostTensor("f16", [2], Uint16Array.of(toF16Bits(0.1), toF16Bits(-65504))),
    hostTensor("bf16", [2], Uint16Array.of(toBF16Bits(0.1), toBF16Bits(-3e38))),
    hostTensor("i32", [2], Int32Array.of(-7, 2 ** 31 - 1)),
    hostTensor("u32", [2], Uint32Array.of(0, 0xffffffff)),
    hostTensor("bool", [3], Uint8Array.of(1, 0, 1)),
  ]
  const back = await withBackend((backend) =>
    Effect.forEach(hosts, (host) => Effect.flatMap(backend.upload(host), backend.download)),
  )
  expect(back).toEqual(hosts)
})

it("carries updated state from one run to the next without a download", async () => {
  const counter = T.state("counter", [2])
  const weights = T.state("weights", [2], "f16")
  const graph = {
    outputs: { seen: T.add(counter, 0) },
    updates: { counter: T.add(counter, 1), weights: T.mul(weights, 2) },
  }
  const { seen, counterValue, weightValue } = await withBackend((backend) =>
    Effect.gen(function* () {
      const program = yield* backend.compile(graph)
      const states: Record<string, DeviceBuffer> = {
        counter: yield* backend.upload(hostTensor("f32", [2], Float32Array.of(0, 10))),
        weights: yield* backend.upload(hostTensor("f16", [2], Uint16Array.of(toF16Bits(1), toF16Bits(-0.5)))),
      }
      const seen: Array<number> = []
      for (let i = 0; i < 4; i++) {
        const out = yield* program.run({}, states)
        seen.push(out.seen!.data[0]!)
      }
      return {
        seen,
        counterValue: yield* backend.download(states.counter!),
        weightValue: yield* backend.download(states.weights!),
      }
    }),
  )
  expect(seen).toEqual([0, 1, 2, 3])
  expect(counterValue.data).toEqual(Float32Array.of(4, 14))
  expect(weightValue.data).toEqual(Uint16Array.of(toF16Bits(16), toF16Bits(-8)))
})

it("decodes every finite bf16 bit pattern exactly and keeps an updated bf16 state as bits", async () => {
  const bits = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((b) => (b & 0x7f80) !== 0x7f80)
  const weights = T.state("w", [bits.length], "bf16")
  const scale = T.state("scale", [2], "bf16")
  const graph = { outputs: { wide: T.cast(weights, "f32") }, updates: { scale: T.mul(scale, 3) } }
  const { wide, scaled } = await withBackend((backend) =>
    Effect.gen(function* () {
      const program = yield* backend.compile(graph)
      const states = {
        w: yield* backend.upload(hostTensor("bf16", [bits.length], bits)),
        scale: yield* backend.upload(
          hostTensor("bf16", [2], Uint16Array.of(toBF16Bits(1), toBF16Bits(-0.5))),
        ),
      }
      yield* program.run({}, states)
      const out = yield* program.run({}, states)
      return { wide: out.wide!.data as Float32Array, scaled: yield* backend.download(states.scale) }
    }),
  )
  expect(new Uint32Array(wide.buffer, wide.byteOffset, wide.length)).toEqual(
    Uint32Array.from(bits, (b) => b << 16),
  )
  expect(scaled.data).toEqual(Uint16Array.of(toBF16Bits(9), toBF16Bits(-4.5)))
})

it("takes a device buffer as a program input", async () => {
  const x = T.input("x", [3])
  const out = await withBackend((backend) =>
    Effect.gen(function* () {
      const program = yield* backend.compile({ outputs: { y: T.mul(x, x) } })
      const buffer = yield* backend.upload(hostTensor("f32", [3], Float32Array.of(1, 2, 3)))
      return yield* program.run({ x: buffer })
    }),
  )
  expect(out.y!.data).toEqual(Float32Array.of(1, 4, 9))
})

it("swaps two states in one run: each update reads the other's old value", async () => {
  const [a, b] = [T.state("a", [2]), T.state("b", [2])]
  const [newA, newB] = await withBackend((backend) =>
    Effect.gen(function* () {
      const program = yield* backend.compile({ outputs: { sum: T.add(a, b) }, updates: { a: b, b: a } })
      const bufferA = yield* backend.upload(hostTensor("f32", [2], Float32Array.of(1, 2)))
      const bufferB = yield* backend.upload(hostTensor("f32", [2], Float32Array.of(10, 20)))
      yield* program.run({}, { a: bufferA, b: bufferB })
      return [yield* backend.download(bufferA), yield* backend.download(bufferB)] as const
    }),
  )
  expect(Array.from(newA.data)).toEqual([10, 20])
  expect(Array.from(newB.data)).toEqual([1, 2])
})
