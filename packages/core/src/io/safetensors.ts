import { Effect } from "effect"
import type { ByteSink, ByteSource } from "./byteSource.js"
import { CheckpointFormatError, type FileAccessError } from "./errors.js"
import { headerLength, parseSafetensorsHeader, SafetensorsProblem } from "./safetensorsHeader.js"
import { type StoredTensor, storageByteSize, type TensorInfo, tensorByteLength } from "./storedTensor.js"
import type { TensorFile } from "./tensorFile.js"
import { encodeUtf8 } from "./text.js"

const asFormatError = (file: string) => (cause: unknown) =>
  cause instanceof SafetensorsProblem
    ? new CheckpointFormatError({ file, detail: cause.message })
    : new CheckpointFormatError({ file, detail: `unreadable safetensors header: ${String(cause)}` })

/**
 * Opens a safetensors file: reads and validates the header only. Each tensor's bytes are read when `read`
 * is called for it.
 */
export const openSafetensors = (
  source: ByteSource,
): Effect.Effect<TensorFile, CheckpointFormatError | FileAccessError> =>
  Effect.gen(function* () {
    const prefix = yield* source.size < 8 ? Effect.succeed(new Uint8Array(0)) : source.read(0, 8)
    const length = yield* Effect.try({
      try: () => headerLength(prefix, source.size),
      catch: asFormatError(source.name),
    })
    const json = yield* source.read(8, length)
    const header = yield* Effect.try({
      try: () => parseSafetensorsHeader(json, source.size),
      catch: asFormatError(source.name),
    })
    const byName = new Map(header.entries.map((entry) => [entry.name, entry]))
    const read = (name: string): Effect.Effect<StoredTensor, CheckpointFormatError | FileAccessError> => {
      const entry = byName.get(name)
      if (entry === undefined) {
        return Effect.fail(
          new CheckpointFormatError({ file: source.name, detail: `has no tensor named "${name}"` }),
        )
      }
      return Effect.map(source.read(header.dataStart + entry.begin, entry.end - entry.begin), (bytes) => ({
        dtype: entry.dtype,
        shape: entry.shape,
        bytes,
      }))
    }
    return {
      name: source.name,
      format: "safetensors",
      metadata: header.metadata,
      tensors: header.entries.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
      read,
    } satisfies TensorFile
  })

/** What the writer needs: tensor descriptions up front, data pulled one tensor at a time. */
export interface TensorWriteSource<E = never> {
  readonly metadata?: Readonly<Record<string, string>>
  readonly tensors: ReadonlyArray<TensorInfo>
  readonly read: (name: string) => Effect.Effect<StoredTensor, E>
}

// Wider types first, then by name, so every tensor starts aligned to its element size (the header is padded
// to 8 bytes); the safetensors reference implementation orders them the same way.
const writeOrder = (a: TensorInfo, b: TensorInfo): number =>
  storageByteSize[b.dtype] - storageByteSize[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/** The header bytes (length prefix included) for a set of tensors, and the order their data follows it. */
export const safetensorsHeaderBytes = (
  tensors: ReadonlyArray<TensorInfo>,
  metadata: Readonly<Record<string, string>> = {},
): { readonly bytes: Uint8Array; readonly order: ReadonlyArray<TensorInfo> } => {
  const order = [...tensors].sort(writeOrder)
  const names = new Set<string>()
  const header: Record<string, unknown> = {}
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata
  let offset = 0
  for (const info of order) {
    if (names.has(info.name)) throw new RangeError(`duplicate tensor name "${info.name}"`)
    if (info.name === "__metadata__") throw new RangeError(`"__metadata__" cannot be a tensor name`)
    names.add(info.name)
    const length = tensorByteLength(info)
    header[info.name] = { dtype: info.dtype, shape: info.shape, data_offsets: [offset, offset + length] }
    offset += length
  }
  const json = encodeUtf8(JSON.stringify(header))
  const padded = Math.ceil(json.length / 8) * 8
  const bytes = new Uint8Array(8 + padded).fill(0x20, 8 + json.length)
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true)
  bytes.set(json, 8)
  return { bytes, order }
}

/**
 * Writes a safetensors file to a sink: the header, then each tensor's data, pulled one tensor at a time so a
 * conversion never holds more than one tensor in memory. Dtypes are kept as they are.
 */
export const writeSafetensors = <E>(
  sink: ByteSink,
  source: TensorWriteSource<E>,
): Effect.Effect<void, E | FileAccessError | CheckpointFormatError> =>
  Effect.gen(function* () {
    const { bytes, order } = yield* Effect.try({
      try: () => safetensorsHeaderBytes(source.tensors, source.metadata),
      catch: (cause) => new CheckpointFormatError({ file: sink.name, detail: (cause as Error).message }),
    })
    yield* sink.write(bytes)
    for (const info of order) {
      const tensor = yield* source.read(info.name)
      const expected = tensorByteLength(info)
      if (tensor.bytes.length !== expected || tensor.dtype !== info.dtype) {
        return yield* new CheckpointFormatError({
          file: sink.name,
          detail: `tensor "${info.name}" was described as ${info.dtype} (${expected} bytes) but read as ${tensor.dtype} (${tensor.bytes.length} bytes)`,
        })
      }
      yield* sink.write(tensor.bytes)
    }
  })

/** Tensors already in memory, as a write source. */
export const tensorsInMemory = (
  tensors: Readonly<Record<string, StoredTensor>>,
  metadata: Readonly<Record<string, string>> = {},
): TensorWriteSource => ({
  metadata,
  tensors: Object.entries(tensors).map(([name, { dtype, shape }]) => ({ name, dtype, shape })),
  read: (name) => Effect.succeed(tensors[name]!),
})
