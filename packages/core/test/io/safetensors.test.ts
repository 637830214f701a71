/// <reference types="node" />
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import {
  blobSource,
  CheckpointFormatError,
  memorySink,
  memorySource,
  openSafetensors,
  openTensorFile,
  type StoredTensor,
  tensorsInMemory,
  toHostTensor,
  writeSafetensors,
} from "../../src/io/index.js"
import { toF16Bits } from "../../src/tensor/halfFloat.js"

const bytesOf = (array: ArrayBufferView): Uint8Array =>
  new Uint8Array(array.buffer, array.byteOffset, array.byteLength)

const sample: Record<string, StoredTensor> = {
  "a.weight": { dtype: "F32", shape: [2, 3], bytes: bytesOf(new Float32Array([1, 2, 3, 4, 5, 6.5])) },
  "a.half": {
    dtype: "F16",
    shape: [3],
    bytes: bytesOf(new Uint16Array([toF16Bits(1), toF16Bits(-2), toF16Bits(0.5)])),
  },
  "b.bf": { dtype: "BF16", shape: [1], bytes: bytesOf(new Uint16Array([0x3f80])) },
  ids: { dtype: "I64", shape: [1, 3], bytes: bytesOf(new BigInt64Array([0n, 1n, 76n])) },
  sched: { dtype: "F64", shape: [2], bytes: bytesOf(new Float64Array([0.1, 0.25])) },
  mask: { dtype: "BOOL", shape: [2], bytes: new Uint8Array([1, 0]) },
  small: { dtype: "U8", shape: [2], bytes: new Uint8Array([200, 3]) },
  scalar: { dtype: "F32", shape: [], bytes: bytesOf(new Float32Array([8])) },
  empty: { dtype: "F32", shape: [0, 4], bytes: new Uint8Array(0) },
}

const serialize = (tensors: Record<string, StoredTensor>, metadata: Record<string, string> = {}) => {
  const sink = memorySink()
  Effect.runSync(writeSafetensors(sink, tensorsInMemory(tensors, metadata)))
  return sink.bytes()
}

/** A safetensors file with a hand-written header, to build corrupt files. */
const handMade = (header: unknown, dataLength: number): Uint8Array => {
  const json = new TextEncoder().encode(JSON.stringify(header))
  const out = new Uint8Array(8 + json.length + dataLength)
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true)
  out.set(json, 8)
  return out
}

const failure = (bytes: Uint8Array): string => {
  const exit = Effect.runSyncExit(openSafetensors(memorySource(bytes, "bad.safetensors")))
  if (Exit.isSuccess(exit)) throw new Error("expected the file to be refused")
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  const value = (error as { error: unknown } | undefined)?.error
  expect(value).toBeInstanceOf(CheckpointFormatError)
  return (value as CheckpointFormatError).message
}

describe("safetensors", () => {
  it("round-trips every dtype, shape and the metadata", async () => {
    const bytes = serialize(sample, { ss_network_dim: "8", "modelspec.title": "测试" })
    const file = await Effect.runPromise(openSafetensors(memorySource(bytes)))
    expect(file.metadata).toEqual({ ss_network_dim: "8", "modelspec.title": "测试" })
    expect(file.tensors.map((t) => t.name).sort()).toEqual(Object.keys(sample).sort())
    for (const [name, tensor] of Object.entries(sample)) {
      const read = await Effect.runPromise(file.read(name))
      expect(read.dtype).toBe(tensor.dtype)
      expect(read.shape).toEqual(tensor.shape)
      expect([...read.bytes]).toEqual([...tensor.bytes])
    }
  })

  it("reads through a Blob, as a browser File is read", async () => {
    const file = await Effect.runPromise(
      openSafetensors(blobSource(new Blob([serialize(sample).slice().buffer]), "lora.safetensors")),
    )
    expect(file.name).toBe("lora.safetensors")
    expect([...(await Effect.runPromise(file.read("small"))).bytes]).toEqual([200, 3])
  })

  it("pads the header to 8 bytes and aligns wide tensors", () => {
    const bytes = serialize(sample)
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true))
    expect(headerLength % 8).toBe(0)
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)))
    for (const name of ["ids", "sched"]) expect(header[name].data_offsets[0] % 8).toBe(0)
    expect(header["a.weight"].data_offsets[0] % 4).toBe(0)
  })

  it("converts stored tensors to host tensors", async () => {
    const file = await Effect.runPromise(openSafetensors(memorySource(serialize(sample))))
    const host = async (name: string) => toHostTensor(await Effect.runPromise(file.read(name)))
    expect([...(await host("a.weight")).data]).toEqual([1, 2, 3, 4, 5, 6.5])
    expect((await host("a.half")).dtype).toBe("f16")
    expect((await host("ids")).dtype).toBe("i32")
    expect([...(await host("ids")).data]).toEqual([0, 1, 76])
    expect([...(await host("sched")).data]).toEqual([Math.fround(0.1), 0.25])
    expect([...(await host("small")).data]).toEqual([200, 3])
    expect((await host("mask")).dtype).toBe("bool")
  })

  it("refuses an I64 value that does not fit in i32 when converting", () => {
    const big: StoredTensor = { dtype: "I64", shape: [1], bytes: bytesOf(new BigInt64Array([1n << 40n])) }
    expect(() => toHostTensor(big)).toThrow(/does not fit in i32/)
  })

  it("reads only the header until a tensor is asked for", async () => {
    const bytes = serialize(sample)
    const reads: Array<[number, number]> = []
    const source = memorySource(bytes)
    const file = await Effect.runPromise(
      openSafetensors({
        ...source,
        read: (offset, length) => {
          reads.push([offset, length])
          return source.read(offset, length)
        },
      }),
    )
    const headerEnd = reads.reduce((end, [offset, length]) => Math.max(end, offset + length), 0)
    expect(headerEnd).toBeLessThan(bytes.length)
    await Effect.runPromise(file.read("sched"))
    expect(reads).toHaveLength(3)
    expect(reads[2]![1]).toBe(16)
  })

  it("refuses a truncated file", () => {
    const bytes = serialize(sample)
    expect(failure(bytes.subarray(0, bytes.length - 3))).toMatch(/truncated|data area/)
    expect(failure(bytes.subarray(0, 20))).toMatch(/truncated/)
    expect(failure(bytes.subarray(0, 5))).toMatch(/too short/)
  })

  it("refuses a header length over the limit", () => {
    const bytes = new Uint8Array(64)
    new DataView(bytes.buffer).setBigUint64(0, 200n * 1024n * 1024n, true)
    expect(failure(bytes)).toMatch(/limit/)
  })

  it("refuses overlapping, gapped and mis-sized ranges", () => {
    const overlap = handMade(
      {
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      },
      12,
    )
    expect(failure(overlap)).toMatch(/overlaps/)
    const gap = handMade(
      {
        a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
        b: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
      },
      12,
    )
    expect(failure(gap)).toMatch(/gap of 4 bytes/)
    const wrongSize = handMade({ a: { dtype: "F16", shape: [3], data_offsets: [0, 8] } }, 8)
    expect(failure(wrongSize)).toMatch(/needs 6 bytes/)
    const trailing = handMade({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, 9)
    expect(failure(trailing)).toMatch(/trailing bytes/)
  })

  it("refuses unknown dtypes, bad shapes, bad metadata and non-JSON headers", () => {
    expect(failure(handMade({ a: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, 1))).toMatch(
      /unsupported dtype/,
    )
    expect(failure(handMade({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, 4))).toMatch(
      /malformed shape/,
    )
    expect(failure(handMade({ __metadata__: { a: 1 } }, 0))).toMatch(/not a string/)
    const garbage = handMade({}, 0)
    garbage[8] = 0x41
    expect(failure(garbage)).toMatch(/not valid JSON/)
  })

  it("fails clearly when a missing tensor is read", async () => {
    const file = await Effect.runPromise(openSafetensors(memorySource(serialize(sample), "x.safetensors")))
    const exit = await Effect.runPromiseExit(file.read("nope"))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(Exit.isFailure(exit) ? exit.cause : "")).toMatch(/no tensor named "nope"/)
  })
})

it("a text file given as a model is named as text, not as a broken header", () => {
  const json = new TextEncoder().encode('{"_class_name": "UNet2DConditionModel"}')
  const error = Effect.runSync(Effect.flip(openTensorFile(memorySource(json, "config.safetensors"))))
  expect(error.message).toBe(
    'config.safetensors: this is a text file (it starts with "{"_class"), not a model: safetensors and .ckpt files are binary',
  )
})
