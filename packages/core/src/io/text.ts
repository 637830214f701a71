// Core compiles without DOM or Node typings, so the WHATWG TextDecoder/TextEncoder that every browser and
// Node provide are reached through these narrow structural types.
interface Utf8Decoder {
  decode(bytes: Uint8Array): string
}
interface Utf8Encoder {
  encode(text: string): Uint8Array
}
const web = globalThis as unknown as {
  TextDecoder: new (label: "utf-8", options: { fatal: boolean }) => Utf8Decoder
  TextEncoder: new () => Utf8Encoder
}

const strictDecoder = new web.TextDecoder("utf-8", { fatal: true })
const encoder = new web.TextEncoder()

/** Decodes UTF-8, throwing a TypeError on malformed input. */
export const decodeUtf8 = (bytes: Uint8Array): string => strictDecoder.decode(bytes)

export const encodeUtf8 = (text: string): Uint8Array => encoder.encode(text)

/** Latin-1 bytes to a string (Python 2 `str` in old pickles). */
export const decodeLatin1 = (bytes: Uint8Array): string => {
  let text = ""
  for (const byte of bytes) text += String.fromCharCode(byte)
  return text
}
