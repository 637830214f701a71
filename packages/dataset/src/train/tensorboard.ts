/**
 * TensorBoard event files, written without TensorFlow: a TFRecord stream (length, masked CRC-32C of the
 * length, payload, masked CRC-32C of the payload) of `Event` protocol buffers. Only what scalar logging
 * needs is encoded: `Event.wall_time` (1, double), `Event.step` (2, int64), `Event.file_version` (3,
 * string) and `Event.summary` (5) holding `Summary.Value` entries with `tag` (1) and `simple_value` (2, float).
 */

const crcTable = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** CRC-32C (Castagnoli), as TFRecord uses. */
export const crc32c = (bytes: Uint8Array): number => {
  let crc = 0xffffffff
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

const maskedCrc = (bytes: Uint8Array): number => {
  const crc = crc32c(bytes)
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0
}

const varint = (value: bigint): Array<number> => {
  const out: Array<number> = []
  let v = BigInt.asUintN(64, value)
  do {
    let byte = Number(v & 0x7fn)
    v >>= 7n
    if (v !== 0n) byte |= 0x80
    out.push(byte)
  } while (v !== 0n)
  return out
}

const tagOf = (field: number, wireType: number) => varint(BigInt((field << 3) | wireType))

const lengthDelimited = (field: number, payload: ArrayLike<number>): Array<number> => [
  ...tagOf(field, 2),
  ...varint(BigInt(payload.length)),
  ...Array.from(payload),
]

const doubleField = (field: number, value: number): Array<number> => {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setFloat64(0, value, true)
  return [...tagOf(field, 1), ...bytes]
}

const floatField = (field: number, value: number): Array<number> => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setFloat32(0, value, true)
  return [...tagOf(field, 5), ...bytes]
}

const utf8 = new TextEncoder()

/** One serialised `Event` with scalar summaries. */
export const scalarEvent = (
  wallTime: number,
  step: number,
  scalars: Readonly<Record<string, number>>,
): Uint8Array => {
  const values = Object.entries(scalars).flatMap(([tag, value]) =>
    lengthDelimited(1, [...lengthDelimited(1, utf8.encode(tag)), ...floatField(2, value)]),
  )
  return Uint8Array.from([
    ...doubleField(1, wallTime),
    ...tagOf(2, 0),
    ...varint(BigInt(step)),
    ...lengthDelimited(5, values),
  ])
}

/** The first event of every file: `file_version: "brain.Event:2"`. */
export const versionEvent = (wallTime: number): Uint8Array =>
  Uint8Array.from([...doubleField(1, wallTime), ...lengthDelimited(3, utf8.encode("brain.Event:2"))])

/** One TFRecord framing a payload. */
export const tfRecord = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(8 + 4 + payload.length + 4)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(payload.length), true)
  view.setUint32(8, maskedCrc(out.subarray(0, 8)), true)
  out.set(payload, 12)
  view.setUint32(12 + payload.length, maskedCrc(payload), true)
  return out
}

/** The file name TensorBoard looks for: `events.out.tfevents.<seconds>.<host>`. */
export const eventFileName = (wallTime: number, host: string): string =>
  `events.out.tfevents.${Math.floor(wallTime)}.${host}`
