/// <reference types="node" />
import { open } from "node:fs/promises"
import { Effect, type Scope } from "effect"
import type { ByteSource } from "../../io/byteSource.js"
import { FileAccessError } from "../../io/errors.js"
import { fileError } from "./fileErrors.js"

/** Opens a file for random-access reads; the handle is closed when the scope closes. */
export const openFileSource = (path: string): Effect.Effect<ByteSource, FileAccessError, Scope.Scope> =>
  Effect.gen(function* () {
    const handle = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => open(path, "r"), catch: (cause) => fileError(path, cause) }),
      (opened) => Effect.promise(() => opened.close()),
    )
    const stats = yield* Effect.tryPromise({
      try: () => handle.stat(),
      catch: (cause) => fileError(path, cause),
    })
    if (stats.isDirectory()) return yield* new FileAccessError({ path, detail: "is a folder, not a file" })
    const size = stats.size
    const read = (offset: number, length: number): Effect.Effect<Uint8Array, FileAccessError> =>
      offset < 0 || length < 0 || offset + length > size
        ? Effect.fail(
            new FileAccessError({
              path,
              detail: `read of ${length} bytes at offset ${offset} goes past the end (${size} bytes)`,
            }),
          )
        : Effect.tryPromise({
            try: async () => {
              const buffer = new Uint8Array(length)
              let filled = 0
              while (filled < length) {
                const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled)
                if (bytesRead === 0)
                  throw new Error(
                    `the file ended at ${offset + filled} bytes while reading; it changed on disk`,
                  )
                filled += bytesRead
              }
              return buffer
            },
            catch: (cause) => fileError(path, cause),
          })
    return { name: path, size, read } satisfies ByteSource
  })
