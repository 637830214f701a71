import { DatasetError } from "../errors.js"

/** One PNG chunk: its four-letter type and its data (length and CRC are derived when written). */
export interface PngChunk {
  readonly type: string
  readonly data: Uint8Array
}

export const pngSignature = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)

const crcTable = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** The CRC-32 the PNG specification puts after each chunk (ISO 3309, reflected, as zlib's). */
export const crc32 = (...parts: ReadonlyArray<Uint8Array>): number => {
  let c = 0xffffffff
  for (const bytes of parts) {
    for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  }
  return (c ^ 0xffffffff) >>> 0
}

const typeBytes = (type: string): Uint8Array => {
  if (!/^[A-Za-z]{4}$/.test(type))
    throw new DatasetError({ message: `PNG chunk type must be 4 letters, got "${type}"` })
  return Uint8Array.from(type, (ch) => ch.charCodeAt(0))
}

/**
 * Splits a PNG file into its chunks, checking the signature, every length and every CRC, and that the
 * file ends with IEND — so that bytes written back from these chunks are a valid PNG.
 */
export const readPngChunks = (png: Uint8Array): ReadonlyArray<PngChunk> => {
  const fail = (message: string) => new DatasetError({ message: `not a valid PNG: ${message}` })
  if (png.length < 8 || pngSignature.some((b, i) => png[i] !== b)) throw fail("missing PNG signature")
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength)
  const chunks: PngChunk[] = []
  let offset = 8
  while (offset < png.length) {
    if (offset + 12 > png.length) throw fail(`truncated chunk header at byte ${offset}`)
    const length = view.getUint32(offset)
    const end = offset + 12 + length
    if (end > png.length) throw fail(`chunk at byte ${offset} runs past the end of the file`)
    const typeAndData = png.subarray(offset + 4, offset + 8 + length)
    const type = String.fromCharCode(...typeAndData.subarray(0, 4))
    if (crc32(typeAndData) !== view.getUint32(offset + 8 + length)) throw fail(`bad CRC in ${type} chunk`)
    chunks.push({ type, data: png.slice(offset + 8, offset + 8 + length) })
    offset = end
    if (type === "IEND") break
  }
  if (chunks[0]?.type !== "IHDR") throw fail("first chunk is not IHDR")
  if (chunks.at(-1)?.type !== "IEND") throw fail("no IEND chunk")
  return chunks
}

/** Writes chunks back into PNG bytes, with lengths and CRCs. */
export const writePngChunks = (chunks: ReadonlyArray<PngChunk>): Uint8Array => {
  const size = chunks.reduce((sum, chunk) => sum + 12 + chunk.data.length, 8)
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  out.set(pngSignature, 0)
  let offset = 8
  for (const chunk of chunks) {
    const type = typeBytes(chunk.type)
    view.setUint32(offset, chunk.data.length)
    out.set(type, offset + 4)
    out.set(chunk.data, offset + 8)
    view.setUint32(offset + 8 + chunk.data.length, crc32(type, chunk.data))
    offset += 12 + chunk.data.length
  }
  return out
}
