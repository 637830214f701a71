/// <reference types="node" />
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import {
  CheckpointFormatError,
  memorySource,
  openTensorFile,
  PickleRefused,
  type TensorFile,
  toHostTensor,
} from "../../src/io/index.js"
import { fromBF16Bits, fromF16Bits } from "../../src/tensor/halfFloat.js"
import { f32Bytes, op, orderedDict, pickle, storage, tensor, torchArchive, tupleOf } from "./pickleBuilder.js"

const fixtures = join(import.meta.dirname, "..", "fixtures")
const fixture = (name: string) => memorySource(new Uint8Array(readFileSync(join(fixtures, name))), name)

const open = (source: ReturnType<typeof memorySource>) => Effect.runPromise(openTensorFile(source))

const failureOf = async (bytes: Uint8Array) => {
  const exit = await Effect.runPromiseExit(openTensorFile(memorySource(bytes, "evil.ckpt")))
  if (Exit.isSuccess(exit)) throw new Error("expected the file to be refused")
  const reason = exit.cause.reasons.find((item) => item._tag === "Fail") as { error: unknown } | undefined
  return reason?.error
}

/** Values as numbers in row-major order, whatever the stored type. */
const valuesOf = async (file: TensorFile, name: string): Promise<Array<number>> => {
  const stored = await Effect.runPromise(file.read(name))
  if (stored.dtype === "F64") return [...new Float64Array(stored.bytes.slice().buffer)]
  const host = toHostTensor(stored)
  if (host.dtype === "f16") return [...host.data].map(fromF16Bits)
  if (host.dtype === "bf16") return [...host.data].map(fromBF16Bits)
  return [...host.data].map(Number)
}

const torchDType: Record<string, string> = {
  "torch.float32": "F32",
  "torch.float16": "F16",
  "torch.bfloat16": "BF16",
  "torch.float64": "F64",
  "torch.int64": "I64",
  "torch.int32": "I32",
  "torch.int16": "I16",
  "torch.int8": "I8",
  "torch.uint8": "U8",
  "torch.bool": "BOOL",
}

const expectMatchesTorch = async (file: TensorFile, expectedFile: string) => {
  const expected = JSON.parse(readFileSync(join(fixtures, expectedFile), "utf8")) as Record<
    string,
    { dtype: string; shape: Array<number>; values: Array<number | boolean> }
  >
  expect(file.tensors.map((t) => t.name)).toEqual(Object.keys(expected))
  for (const info of file.tensors) {
    const want = expected[info.name]!
    expect(info.dtype, info.name).toBe(torchDType[want.dtype])
    expect(info.shape, info.name).toEqual(want.shape)
    expect(await valuesOf(file, info.name), info.name).toEqual(want.values.map(Number))
  }
}

describe("torch.save checkpoints written by real PyTorch", () => {
  it("reads every dtype, strided views, storage offsets and shared storages", async () => {
    const file = await open(fixture("tiny-state-dict.pt"))
    expect(file.format).toBe("pytorch-zip")
    await expectMatchesTorch(file, "tiny-state-dict.expected.json")
  })

  it("reads a Lightning checkpoint's state_dict beside numpy training metadata", async () => {
    await expectMatchesTorch(await open(fixture("tiny-lightning.ckpt")), "tiny-lightning.expected.json")
  })

  it("reads an archive whose members are deflated", async () => {
    await expectMatchesTorch(await open(fixture("tiny-deflated.pt")), "tiny-state-dict.expected.json")
  })

  it("refuses a pickle whose __reduce__ calls os.system (written by Python's pickle)", async () => {
    const exit = await Effect.runPromiseExit(openTensorFile(fixture("malicious-os-system.ckpt")))
    const error = Exit.isFailure(exit) ? (exit.cause.reasons[0] as { error: unknown }).error : undefined
    expect(error).toBeInstanceOf(PickleRefused)
    expect((error as PickleRefused).found).toBe("the global posix.system")
  })

  it("refuses the pre-1.6 legacy format with advice", async () => {
    const exit = await Effect.runPromiseExit(openTensorFile(fixture("legacy-format.pt")))
    expect(String(Exit.isFailure(exit) ? exit.cause : "")).toMatch(
      /legacy PyTorch pickle checkpoint .* convert it to \.safetensors/,
    )
  })
})

describe("a bare pickle stream (torch.save before 1.6, or not a zip)", () => {
  const legacy =
    /^old\.ckpt: this is a legacy PyTorch pickle checkpoint \(saved before PyTorch 1\.6, not a zip\), which danlu does not read: load it and save it again with torch\.save in PyTorch 1\.6 or newer, or convert it to \.safetensors$/
  // pickle.dumps({}, protocol=2) and pickle.dumps({"a": 1}, protocol=4 and 5), from Python 3.
  const protocol2 = [128, 2, 125, 113, 0, 46]
  const framed = (protocol: number) => [
    128,
    protocol,
    149,
    10,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    125,
    148,
    140,
    1,
    97,
    148,
    75,
    1,
    115,
    46,
  ]

  it.each([
    ["protocol 2, shorter than a safetensors length field", protocol2],
    ["protocol 4", framed(4)],
    ["protocol 5", framed(5)],
  ])("is named as a legacy pickle checkpoint with what to do: %s", (_, bytes) => {
    const error = Effect.runSync(Effect.flip(openTensorFile(memorySource(new Uint8Array(bytes), "old.ckpt"))))
    expect(error.message).toMatch(legacy)
  })

  it("while a safetensors file whose header length starts with the same two bytes still opens", async () => {
    // A 640-byte header is the u64 0x280: its first bytes, 0x80 0x02, are a pickle's protocol-2 opening.
    const json = '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'.padEnd(640, " ")
    const bytes = new Uint8Array(8 + 640 + 4)
    new DataView(bytes.buffer).setBigUint64(0, 640n, true)
    bytes.set(new TextEncoder().encode(json), 8)
    bytes.set(new Uint8Array(new Float32Array([1.5]).buffer), 648)
    expect([bytes[0], bytes[1]]).toEqual([0x80, 0x02])
    const file = await open(memorySource(bytes, "x.safetensors"))
    expect(await valuesOf(file, "x")).toEqual([1.5])
  })
})

describe("hand-built torch.save archives", () => {
  const weight = tensor("FloatStorage", "0", 6, 0, [2, 3], [3, 1])
  const view = tensor("FloatStorage", "0", 6, 1, [2, 2], [1, 3])

  it("loads the exact torch.save layout, honouring offset and strides", async () => {
    const bytes = torchArchive(
      "model",
      orderedDict([
        ["w", weight],
        ["v", view],
      ]),
      { "0": f32Bytes(0, 1, 2, 3, 4, 5) },
    )
    const file = await open(memorySource(bytes))
    expect(file.tensors).toEqual([
      { name: "w", dtype: "F32", shape: [2, 3] },
      { name: "v", dtype: "F32", shape: [2, 2] },
    ])
    expect(await valuesOf(file, "w")).toEqual([0, 1, 2, 3, 4, 5])
    // offset 1, strides (1, 3): [[s1, s4], [s2, s5]]
    expect(await valuesOf(file, "v")).toEqual([1, 4, 2, 5])
  })

  it("gathers views whose inner axis is dense and views that are strided everywhere", async () => {
    // storage 0..23 as [2,3,4]; rows = [:, 1:, 1:3] keeps the inner axis dense, cols = permuted
    const storageBytes = f32Bytes(...Array.from({ length: 24 }, (_, i) => i))
    const rows = tensor("FloatStorage", "0", 24, 5, [2, 2, 2], [12, 4, 1])
    const cols = tensor("FloatStorage", "0", 24, 0, [4, 2], [1, 12])
    const file = await open(
      memorySource(
        torchArchive(
          "m",
          orderedDict([
            ["rows", rows],
            ["cols", cols],
          ]),
          { "0": storageBytes },
        ),
      ),
    )
    expect(await valuesOf(file, "rows")).toEqual([5, 6, 9, 10, 17, 18, 21, 22])
    expect(await valuesOf(file, "cols")).toEqual([0, 12, 1, 13, 2, 14, 3, 15])
  })

  it("refuses a state dict that contains itself", async () => {
    const selfish = pickle(
      op.proto(2),
      op.emptyDict(),
      op.binput(0),
      op.str("loop"),
      op.binget(0),
      op.setitem(),
      op.stop(),
    )
    const error = await failureOf(torchArchive("m", selfish, {}))
    expect(error).toBeInstanceOf(CheckpointFormatError)
    expect((error as Error).message).toMatch(/refers to itself at "loop\."/)
  })

  it("reads zip64 archives (checkpoints over 4 GB use them)", async () => {
    const bytes = torchArchive(
      "big",
      orderedDict([["w", weight]]),
      { "0": f32Bytes(0, 1, 2, 3, 4, 5) },
      { zip64: true },
    )
    expect(await valuesOf(await open(memorySource(bytes)), "w")).toEqual([0, 1, 2, 3, 4, 5])
  })

  it("refuses a view that reaches past its storage", async () => {
    const outside = tensor("FloatStorage", "0", 6, 4, [2, 2], [1, 3])
    const error = await failureOf(
      torchArchive("m", orderedDict([["w", outside]]), { "0": f32Bytes(0, 1, 2, 3, 4, 5) }),
    )
    expect(error).toBeInstanceOf(CheckpointFormatError)
    expect((error as Error).message).toMatch(/reaches element 8 of a storage of 6/)
  })

  it("refuses a storage whose data member is missing or short", async () => {
    const missing = await failureOf(torchArchive("m", orderedDict([["w", weight]]), {}))
    expect((missing as Error).message).toMatch(/storage 0 has no data member/)
    const short = await failureOf(torchArchive("m", orderedDict([["w", weight]]), { "0": f32Bytes(1, 2) }))
    expect((short as Error).message).toMatch(/should hold 6 F32 elements but its member has 8 bytes/)
  })

  it("refuses a truncated archive", async () => {
    const bytes = torchArchive("m", orderedDict([["w", weight]]), { "0": f32Bytes(0, 1, 2, 3, 4, 5) })
    const error = await failureOf(bytes.subarray(0, bytes.length - 30))
    expect(error).toBeInstanceOf(CheckpointFormatError)
    expect((error as Error).message).toMatch(/end-of-directory record not found/)
  })
})

describe("malicious pickles are refused without executing anything", () => {
  const archive = (dataPkl: Uint8Array) => torchArchive("evil", dataPkl, { "0": f32Bytes(1) })
  const refused = async (dataPkl: Uint8Array): Promise<string> => {
    const error = await failureOf(archive(dataPkl))
    expect(error).toBeInstanceOf(PickleRefused)
    return (error as PickleRefused).message
  }

  it("GLOBAL os.system with REDUCE", async () => {
    const evil = pickle(
      op.proto(2),
      op.global("os", "system"),
      tupleOf(op.str("touch /tmp/danlu-pwned")),
      op.reduce(),
      op.stop(),
    )
    expect(await refused(evil)).toMatch(/the global os\.system/)
  })

  it("STACK_GLOBAL builtins.eval", async () => {
    const evil = pickle(op.proto(4), op.str("builtins"), op.str("eval"), op.stackGlobal(), op.stop())
    expect(await refused(evil)).toMatch(/the global builtins\.eval/)
  })

  it("a global smuggled inside a state dict value", async () => {
    const evil = orderedDict([
      ["w", [...op.global("subprocess", "Popen"), ...tupleOf(op.str("ls")), ...op.reduce()]],
    ])
    expect(await refused(evil)).toMatch(/subprocess\.Popen/)
  })

  it("REDUCE of an allowed class marker that is not callable (a storage class)", async () => {
    const evil = pickle(
      op.proto(2),
      op.global("torch", "FloatStorage"),
      tupleOf(op.int(4)),
      op.reduce(),
      op.stop(),
    )
    expect(await refused(evil)).toMatch(/a call to torch\.FloatStorage/)
  })

  it("REDUCE on a value that is not a global", async () => {
    const evil = pickle(op.proto(2), op.str("os.system"), tupleOf(op.str("ls")), op.reduce(), op.stop())
    expect(await refused(evil)).toMatch(/REDUCE on a string/)
  })

  it("the INST and OBJ opcodes and unknown opcodes", async () => {
    expect(
      await refused(pickle(op.proto(2), op.mark(), op.raw(0x69, ...Buffer.from("os\nsystem\n")), op.stop())),
    ).toMatch(/the opcode INST/)
    expect(await refused(pickle(op.proto(2), op.mark(), op.raw(0x6f), op.stop()))).toMatch(/the opcode OBJ/)
    expect(await refused(pickle(op.proto(2), op.raw(0xff), op.stop()))).toMatch(/unknown opcode 0xff/)
  })

  it("a persistent id that is not a storage", async () => {
    const evil = pickle(op.proto(2), tupleOf(op.str("module"), op.str("os")), op.binpersid(), op.stop())
    expect(await refused(evil)).toMatch(/persistent id that is not a torch storage/)
  })

  it("a truncated pickle is damage, not a crash", async () => {
    const valid = orderedDict([["w", tensor("FloatStorage", "0", 1, 0, [1], [1])]])
    const error = await failureOf(archive(valid.subarray(0, valid.length - 10)))
    expect(error).toBeInstanceOf(CheckpointFormatError)
    expect((error as Error).message).toMatch(/truncated|stack/)
  })

  it("also refuses a storage class used in a persistent id through storage()", async () => {
    const evil = pickle(op.proto(2), storage("os.system", "0", 1), op.stop())
    const error = await failureOf(archive(evil))
    expect(error).toBeInstanceOf(PickleRefused)
  })
})
