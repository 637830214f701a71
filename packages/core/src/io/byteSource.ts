import { Effect } from "effect"
import { FileAccessError } from "./errors.js"

/**
 * Random-access bytes: a file, a browser `File`/`Blob`, or memory. The format readers only ever read through
 * this, so they run unchanged in Node and in a browser, and never load more than they ask for.
 */
export interface ByteSource {
  /** Where the bytes come from (a path, a file name, "memory"); used in messages. */
  readonly name: string
  readonly size: number
  /** Exactly `length` bytes starting at `offset`, in a fresh buffer whose `byteOffset` is 0. */
  readonly read: (offset: number, length: number) => Effect.Effect<Uint8Array, FileAccessError>
}

/** Where written bytes go, in order. */
export interface ByteSink {
  readonly name: string
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, FileAccessError>
}

const outOfRange = (name: string, offset: number, length: number, size: number): FileAccessError =>
  new FileAccessError({
    path: name,
    detail: `read of ${length} bytes at offset ${offset} goes past the end (${size} bytes)`,
  })

/** A source over bytes already in memory. */
export const memorySource = (bytes: Uint8Array, name = "memory"): ByteSource => ({
  name,
  size: bytes.length,
  read: (offset, length) =>
    offset < 0 || length < 0 || offset + length > bytes.length
      ? Effect.fail(outOfRange(name, offset, length, bytes.length))
      : Effect.sync(() => bytes.slice(offset, offset + length)),
})

/** The slice of a Blob that a browser `File` or Node `Blob` exposes. */
export interface BlobLike {
  readonly size: number
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> }
}

/** A source over a browser `File` (or any Blob): each read fetches only the requested slice. */
export const blobSource = (blob: BlobLike, name: string): ByteSource => ({
  name,
  size: blob.size,
  read: (offset, length) =>
    offset < 0 || length < 0 || offset + length > blob.size
      ? Effect.fail(outOfRange(name, offset, length, blob.size))
      : Effect.tryPromise({
          try: async () => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
          catch: (cause) => new FileAccessError({ path: name, detail: `read failed: ${String(cause)}` }),
        }),
})

/** A sink that collects everything in memory; `bytes()` returns what was written so far. */
export const memorySink = (name = "memory"): ByteSink & { readonly bytes: () => Uint8Array } => {
  const chunks: Array<Uint8Array> = []
  return {
    name,
    write: (bytes) => Effect.sync(() => void chunks.push(bytes.slice())),
    bytes: () => {
      const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0)
      const out = new Uint8Array(total)
      let at = 0
      for (const chunk of chunks) {
        out.set(chunk, at)
        at += chunk.length
      }
      return out
    },
  }
}
