import { formatShape, sizeOf } from "../tensor/shape.js"
import { isStorageDType, type StorageDType, storageByteSize } from "./storedTensor.js"
import { decodeUtf8 } from "./text.js"

/** Headers bigger than this are refused before they are read; real headers are a few hundred KB. */
export const maxSafetensorsHeaderBytes = 100 * 1024 * 1024

/** One tensor's entry: byte range relative to the start of the data area (just after the header). */
export interface SafetensorsEntry {
  readonly name: string
  readonly dtype: StorageDType
  readonly shape: ReadonlyArray<number>
  readonly begin: number
  readonly end: number
}

export interface SafetensorsHeader {
  readonly metadata: Readonly<Record<string, string>>
  /** Entries in the order their data appears in the file. */
  readonly entries: ReadonlyArray<SafetensorsEntry>
  /** File offset of the data area. */
  readonly dataStart: number
}

/** Problems are thrown as this and turned into a CheckpointFormatError naming the file by the caller. */
export class SafetensorsProblem extends Error {}

const fail = (detail: string): never => {
  throw new SafetensorsProblem(detail)
}

/** Reads the 8-byte little-endian header length; refuses lengths that cannot fit or are unreasonably big. */
export const headerLength = (prefix: Uint8Array, fileSize: number): number => {
  if (fileSize < 8) fail(`file is ${fileSize} bytes long, too short for a safetensors header`)
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true)
  if (length > BigInt(maxSafetensorsHeaderBytes)) {
    fail(
      `header claims ${length} bytes, more than the ${maxSafetensorsHeaderBytes}-byte limit; not a safetensors file?`,
    )
  }
  const n = Number(length)
  if (n < 2) fail(`header length ${n} is too small to hold a JSON object`)
  if (8 + n > fileSize)
    fail(
      `header claims ${n} bytes but the file has only ${fileSize - 8} after the length field; the file is truncated`,
    )
  return n
}

const isNonNegativeInteger = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0

/**
 * Parses and validates a header against the file size: every dtype and shape is known, every byte range
 * matches its shape, and the ranges tile the data area exactly (no overlap, no gap, nothing past the end).
 */
export const parseSafetensorsHeader = (json: Uint8Array, fileSize: number): SafetensorsHeader => {
  let text = ""
  try {
    text = decodeUtf8(json)
  } catch {
    fail("header is not valid UTF-8; not a safetensors file?")
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    fail(`header is not valid JSON (${(cause as Error).message}); the file is damaged or not safetensors`)
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    fail("header is not a JSON object")
  const dataStart = 8 + json.length
  const dataLength = fileSize - dataStart
  let metadata: Record<string, string> = {}
  const entries: Array<SafetensorsEntry> = []
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        fail("__metadata__ is not an object")
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        if (typeof item !== "string") fail(`__metadata__ value "${key}" is not a string`)
      }
      metadata = value as Record<string, string>
      continue
    }
    if (typeof value !== "object" || value === null) fail(`tensor "${name}" has no description`)
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>
    if (typeof dtype !== "string" || !isStorageDType(dtype))
      fail(`tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)}`)
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger))
      fail(`tensor "${name}" has a malformed shape ${JSON.stringify(shape)}`)
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
      fail(`tensor "${name}" has malformed data_offsets ${JSON.stringify(offsets)}`)
    }
    const [begin, end] = offsets as [number, number]
    const typed = dtype as StorageDType
    const dims = shape as Array<number>
    const expected = sizeOf(dims) * storageByteSize[typed]
    if (end < begin) fail(`tensor "${name}" ends (${end}) before it begins (${begin})`)
    if (end - begin !== expected) {
      fail(
        `tensor "${name}" ${typed} ${formatShape(dims)} needs ${expected} bytes but its offsets span ${end - begin}`,
      )
    }
    if (end > dataLength) {
      fail(
        `tensor "${name}" ends at byte ${end} of the data but the file holds only ${dataLength}; the file is truncated`,
      )
    }
    entries.push({ name, dtype: typed, shape: dims, begin, end })
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end)
  let cursor = 0
  for (const entry of entries) {
    if (entry.begin < cursor)
      fail(
        `tensor "${entry.name}" overlaps the tensor before it (starts at ${entry.begin}, previous ends at ${cursor})`,
      )
    if (entry.begin > cursor)
      fail(
        `there is a gap of ${entry.begin - cursor} bytes before tensor "${entry.name}"; the offsets are corrupt`,
      )
    cursor = entry.end
  }
  if (cursor !== dataLength) {
    fail(
      `the tensors cover ${cursor} bytes but the data area holds ${dataLength}; the file has trailing bytes or is damaged`,
    )
  }
  return { metadata, entries, dataStart }
}
