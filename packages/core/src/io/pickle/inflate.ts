// DecompressionStream("deflate-raw") exists in every current browser and in Node >= 20.12. Core compiles
// without DOM typings, so it is reached through narrow structural types.
interface ByteStream {
  pipeThrough(transform: unknown): unknown
}
const web = globalThis as unknown as {
  DecompressionStream?: new (format: "deflate-raw") => unknown
  Blob: new (parts: ReadonlyArray<Uint8Array>) => { stream(): ByteStream }
  Response: new (body: unknown) => { arrayBuffer(): Promise<ArrayBuffer> }
}

/** Inflates raw DEFLATE data (zip method 8). */
export const inflateRaw = async (compressed: Uint8Array): Promise<Uint8Array> => {
  if (web.DecompressionStream === undefined) {
    throw new Error("this runtime has no DecompressionStream, so compressed zip entries cannot be read")
  }
  const stream = new web.Blob([compressed]).stream().pipeThrough(new web.DecompressionStream("deflate-raw"))
  return new Uint8Array(await new web.Response(stream).arrayBuffer())
}
