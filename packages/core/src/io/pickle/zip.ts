import { Effect } from "effect"
import type { ByteSource } from "../byteSource.js"
import { CheckpointFormatError, type FileAccessError } from "../errors.js"
import { decodeUtf8 } from "../text.js"
import { crc32 } from "./crc32.js"
import { inflateRaw } from "./inflate.js"

/** One member of a zip archive, as its central directory describes it. */
export interface ZipEntry {
  readonly name: string
  /** 0 = stored, 8 = deflate. */
  readonly method: number
  readonly compressedSize: number
  readonly size: number
  readonly crc: number
  readonly localHeaderOffset: number
}

/** An opened zip: the directory is read, members are read on demand. */
export interface ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>
  /** A whole member, inflated if needed, CRC-checked. */
  readonly readEntry: (entry: ZipEntry) => Effect.Effect<Uint8Array, CheckpointFormatError | FileAccessError>
  /** A byte range of a stored (uncompressed) member, read straight from the file. */
  readonly readStoredRange: (
    entry: ZipEntry,
    offset: number,
    length: number,
  ) => Effect.Effect<Uint8Array, CheckpointFormatError | FileAccessError>
}

const endOfDirectory = 0x06054b50
const zip64Locator = 0x07064b50
const zip64EndOfDirectory = 0x06064b50
const centralHeader = 0x02014b50
const localHeader = 0x04034b50
const maxComment = 0xffff

/** Starts with the zip local-file signature. */
export const looksLikeZip = (prefix: Uint8Array): boolean =>
  prefix.length >= 4 && prefix[0] === 0x50 && prefix[1] === 0x4b && prefix[2] === 0x03 && prefix[3] === 0x04

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const u64 = (data: DataView, at: number): number => Number(data.getBigUint64(at, true))

/** Opens the zip directory of a source, supporting zip64 (checkpoints over 4 GB) and deflate members. */
export const openZip = (
  source: ByteSource,
): Effect.Effect<ZipArchive, CheckpointFormatError | FileAccessError> =>
  Effect.gen(function* () {
    const bad = (detail: string) => new CheckpointFormatError({ file: source.name, detail })
    const tailLength = Math.min(source.size, 22 + maxComment)
    const tailStart = source.size - tailLength
    const tail = yield* source.read(tailStart, tailLength)
    const tailView = view(tail)
    let eocd = -1
    for (let at = tail.length - 22; at >= 0; at--) {
      if (tailView.getUint32(at, true) === endOfDirectory) {
        eocd = at
        break
      }
    }
    if (eocd < 0)
      return yield* bad("zip end-of-directory record not found; the file is truncated or not a zip")
    let entryCount = tailView.getUint16(eocd + 10, true)
    let directorySize = tailView.getUint32(eocd + 12, true)
    let directoryOffset = tailView.getUint32(eocd + 16, true)
    if (entryCount === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
      const locatorAt = tailStart + eocd - 20
      if (locatorAt < 0) return yield* bad("zip64 locator missing")
      const locator = view(yield* source.read(locatorAt, 20))
      if (locator.getUint32(0, true) !== zip64Locator) return yield* bad("zip64 locator missing")
      const recordAt = u64(locator, 8)
      if (recordAt + 56 > source.size)
        return yield* bad("zip64 directory record lies past the end of the file")
      const record = view(yield* source.read(recordAt, 56))
      if (record.getUint32(0, true) !== zip64EndOfDirectory)
        return yield* bad("zip64 directory record is damaged")
      entryCount = u64(record, 32)
      directorySize = u64(record, 40)
      directoryOffset = u64(record, 48)
    }
    if (directoryOffset + directorySize > source.size) {
      return yield* bad(
        `zip directory (${directorySize} bytes at ${directoryOffset}) lies past the end of the file; it is truncated`,
      )
    }
    const directory = yield* source.read(directoryOffset, directorySize)
    const dir = view(directory)
    const entries = new Map<string, ZipEntry>()
    let at = 0
    for (let index = 0; index < entryCount; index++) {
      if (at + 46 > directory.length || dir.getUint32(at, true) !== centralHeader) {
        return yield* bad(`zip directory entry ${index} is damaged`)
      }
      const flags = dir.getUint16(at + 8, true)
      const method = dir.getUint16(at + 10, true)
      const crc = dir.getUint32(at + 16, true)
      let compressedSize = dir.getUint32(at + 20, true)
      let size = dir.getUint32(at + 24, true)
      const nameLength = dir.getUint16(at + 28, true)
      const extraLength = dir.getUint16(at + 30, true)
      const commentLength = dir.getUint16(at + 32, true)
      let localHeaderOffset = dir.getUint32(at + 42, true)
      const nameStart = at + 46
      if (nameStart + nameLength + extraLength > directory.length)
        return yield* bad(`zip directory entry ${index} is damaged`)
      const name = decodeUtf8(directory.subarray(nameStart, nameStart + nameLength))
      let extra = nameStart + nameLength
      const extraEnd = extra + extraLength
      while (extra + 4 <= extraEnd) {
        const id = dir.getUint16(extra, true)
        const length = dir.getUint16(extra + 2, true)
        if (id === 0x0001) {
          let field = extra + 4
          if (size === 0xffffffff) {
            size = u64(dir, field)
            field += 8
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = u64(dir, field)
            field += 8
          }
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(dir, field)
        }
        extra += 4 + length
      }
      if (flags & 1) return yield* bad(`zip member ${name} is encrypted`)
      if (method !== 0 && method !== 8)
        return yield* bad(
          `zip member ${name} uses compression method ${method}; only stored and deflate are supported`,
        )
      if (localHeaderOffset + 30 + compressedSize > source.size) {
        return yield* bad(`zip member ${name} lies past the end of the file; the file is truncated`)
      }
      entries.set(name, { name, method, compressedSize, size, crc, localHeaderOffset })
      at = extraEnd + commentLength
    }

    const dataOffsets = new Map<string, number>()
    const dataOffset = (entry: ZipEntry) =>
      Effect.gen(function* () {
        const known = dataOffsets.get(entry.name)
        if (known !== undefined) return known
        const header = view(yield* source.read(entry.localHeaderOffset, 30))
        if (header.getUint32(0, true) !== localHeader)
          return yield* bad(`zip member ${entry.name} has a damaged local header`)
        const offset = entry.localHeaderOffset + 30 + header.getUint16(26, true) + header.getUint16(28, true)
        if (offset + entry.compressedSize > source.size) {
          return yield* bad(`zip member ${entry.name} lies past the end of the file; the file is truncated`)
        }
        dataOffsets.set(entry.name, offset)
        return offset
      })

    const readEntry = (entry: ZipEntry) =>
      Effect.gen(function* () {
        const raw = yield* source.read(yield* dataOffset(entry), entry.compressedSize)
        const bytes =
          entry.method === 0
            ? raw
            : yield* Effect.tryPromise({
                try: () => inflateRaw(raw),
                catch: (cause) => bad(`zip member ${entry.name} does not inflate: ${String(cause)}`),
              })
        if (bytes.length !== entry.size)
          return yield* bad(`zip member ${entry.name} has ${bytes.length} bytes, expected ${entry.size}`)
        if (crc32(bytes) !== entry.crc)
          return yield* bad(`zip member ${entry.name} fails its CRC check; the file is damaged`)
        return bytes
      })

    const readStoredRange = (entry: ZipEntry, offset: number, length: number) =>
      Effect.gen(function* () {
        if (entry.method !== 0)
          return yield* bad(`zip member ${entry.name} is compressed and cannot be read in parts`)
        if (offset < 0 || offset + length > entry.size) {
          return yield* bad(
            `read of ${length} bytes at ${offset} goes past the end of zip member ${entry.name} (${entry.size} bytes)`,
          )
        }
        return yield* source.read((yield* dataOffset(entry)) + offset, length)
      })

    return { entries, readEntry, readStoredRange } satisfies ZipArchive
  })
