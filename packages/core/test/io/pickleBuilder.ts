/// <reference types="node" />
// Writes pickles opcode by opcode and zips them the way torch.save does, so tests control every byte.
import { crc32 } from "../../src/io/pickle/crc32.js"

const latin = (text: string): Array<number> => [...Buffer.from(text, "utf8")]
const u32 = (n: number): Array<number> => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]
const u16 = (n: number): Array<number> => [n & 0xff, (n >>> 8) & 0xff]
const u64 = (n: number): Array<number> => [...u32(n % 2 ** 32), ...u32(Math.floor(n / 2 ** 32))]

/** Pickle opcodes as byte arrays; `pickle(...parts)` joins them. */
export const op = {
  proto: (version: number) => [0x80, version],
  stop: () => [0x2e],
  mark: () => [0x28],
  none: () => [0x4e],
  false: () => [0x89],
  true: () => [0x88],
  int: (n: number) => (n >= 0 && n < 256 ? [0x4b, n] : [0x4a, ...u32(n)]),
  float: (x: number) => {
    const bytes = Buffer.alloc(8)
    bytes.writeDoubleBE(x)
    return [0x47, ...bytes]
  },
  str: (text: string) => {
    const bytes = latin(text)
    return [0x58, ...u32(bytes.length), ...bytes]
  },
  global: (module: string, name: string) => [0x63, ...latin(`${module}\n${name}\n`)],
  stackGlobal: () => [0x93],
  emptyTuple: () => [0x29],
  tuple: () => [0x74],
  tuple2: () => [0x86],
  emptyDict: () => [0x7d],
  emptyList: () => [0x5d],
  append: () => [0x61],
  setitem: () => [0x73],
  setitems: () => [0x75],
  reduce: () => [0x52],
  build: () => [0x62],
  newobj: () => [0x81],
  binpersid: () => [0x51],
  binput: (index: number) => [0x71, index],
  binget: (index: number) => [0x68, index],
  raw: (...bytes: Array<number>) => bytes,
}

export const pickle = (...parts: Array<Array<number>>): Uint8Array => new Uint8Array(parts.flat())

/** `tuple(items...)` with MARK ... TUPLE. */
export const tupleOf = (...items: Array<Array<number>>): Array<number> => [
  ...op.mark(),
  ...items.flat(),
  ...op.tuple(),
]

/** torch's `('storage', torch.<Kind>Storage, key, 'cpu', numel)` persistent id, loaded. */
export const storage = (kind: string, key: string, numel: number): Array<number> => [
  ...tupleOf(op.str("storage"), op.global("torch", kind), op.str(key), op.str("cpu"), op.int(numel)),
  ...op.binpersid(),
]

/** `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`, exactly as torch.save emits it. */
export const tensor = (
  kind: string,
  key: string,
  numel: number,
  offset: number,
  size: Array<number>,
  stride: Array<number>,
): Array<number> => [
  ...op.global("torch._utils", "_rebuild_tensor_v2"),
  ...tupleOf(
    storage(kind, key, numel),
    op.int(offset),
    tupleOf(...size.map(op.int)),
    tupleOf(...stride.map(op.int)),
    op.false(),
    [...op.global("collections", "OrderedDict"), ...op.emptyTuple(), ...op.reduce()],
  ),
  ...op.reduce(),
]

/** An OrderedDict pickle of `name → value bytes` pairs. */
export const orderedDict = (entries: Array<[string, Array<number>]>): Uint8Array =>
  pickle(
    op.proto(2),
    op.global("collections", "OrderedDict"),
    op.emptyTuple(),
    op.reduce(),
    op.binput(0),
    op.mark(),
    ...entries.flatMap(([name, value]) => [op.str(name), value]),
    op.setitems(),
    op.stop(),
  )

/** A stored (uncompressed) zip; with `zip64` every size and offset goes through the zip64 records. */
export const zip = (members: Array<[string, Uint8Array]>, options: { zip64?: boolean } = {}): Uint8Array => {
  const big = options.zip64 === true
  const local: Array<number> = []
  const central: Array<number> = []
  for (const [name, data] of members) {
    const nameBytes = latin(name)
    const offset = local.length
    const crc = crc32(data)
    local.push(...u32(0x04034b50), ...u16(20), ...u16(0), ...u16(0), ...u16(0), ...u16(0), ...u32(crc))
    local.push(
      ...u32(data.length),
      ...u32(data.length),
      ...u16(nameBytes.length),
      ...u16(0),
      ...nameBytes,
      ...data,
    )
    const extra = big ? [...u16(1), ...u16(24), ...u64(data.length), ...u64(data.length), ...u64(offset)] : []
    const field = (n: number) => (big ? u32(0xffffffff) : u32(n))
    central.push(
      ...u32(0x02014b50),
      ...u16(45),
      ...u16(45),
      ...u16(0),
      ...u16(0),
      ...u16(0),
      ...u16(0),
      ...u32(crc),
    )
    central.push(
      ...field(data.length),
      ...field(data.length),
      ...u16(nameBytes.length),
      ...u16(extra.length),
      ...u16(0),
    )
    central.push(...u16(0), ...u16(0), ...u32(0), ...field(offset), ...nameBytes, ...extra)
  }
  const directoryOffset = local.length
  const tail: Array<number> = []
  if (big) {
    const recordOffset = directoryOffset + central.length
    tail.push(...u32(0x06064b50), ...u64(44), ...u16(45), ...u16(45), ...u32(0), ...u32(0))
    tail.push(...u64(members.length), ...u64(members.length), ...u64(central.length), ...u64(directoryOffset))
    tail.push(...u32(0x07064b50), ...u32(0), ...u64(recordOffset), ...u32(1))
  }
  const count = big ? 0xffff : members.length
  tail.push(...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(count), ...u16(count))
  tail.push(
    ...(big ? u32(0xffffffff) : u32(central.length)),
    ...(big ? u32(0xffffffff) : u32(directoryOffset)),
    ...u16(0),
  )
  return new Uint8Array([...local, ...central, ...tail])
}

/** A torch.save-shaped archive: `<root>/data.pkl`, `<root>/data/<key>`, `<root>/version`. */
export const torchArchive = (
  root: string,
  dataPkl: Uint8Array,
  storages: Record<string, Uint8Array>,
  options: { zip64?: boolean } = {},
): Uint8Array =>
  zip(
    [
      [`${root}/data.pkl`, dataPkl],
      ...Object.entries(storages).map(([key, bytes]): [string, Uint8Array] => [`${root}/data/${key}`, bytes]),
      [`${root}/version`, new Uint8Array(latin("3\n"))],
    ],
    options,
  )

export const f32Bytes = (...values: Array<number>): Uint8Array =>
  new Uint8Array(new Float32Array(values).buffer)
