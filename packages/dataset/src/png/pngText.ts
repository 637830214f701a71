import { inflateSync } from "node:zlib"
import { DatasetError } from "../errors.js"
import { type PngChunk, readPngChunks, writePngChunks } from "./pngChunks.js"

/** A PNG text entry, as Pillow and A1111 see it: a keyword and its text. */
export interface PngTextEntry {
  readonly keyword: string
  readonly text: string
}

const textTypes = new Set(["tEXt", "zTXt", "iTXt"])

const isLatin1 = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false
  return true
}

const latin1Bytes = (text: string): Uint8Array => Uint8Array.from(text, (ch) => ch.charCodeAt(0))

// TextDecoder("latin1") is windows-1252 in the WHATWG encoding spec, which remaps 0x80–0x9f.
const latin1Text = (bytes: Uint8Array): string => {
  let text = ""
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192))
  return text
}

const utf8 = new TextEncoder()
const utf8Text = new TextDecoder("utf-8")

const checkKeyword = (keyword: string) => {
  if (keyword.length < 1 || keyword.length > 79 || !isLatin1(keyword) || keyword.includes("\0"))
    throw new DatasetError({ message: `PNG text keyword must be 1–79 Latin-1 characters, got "${keyword}"` })
}

/**
 * The chunk Pillow's `PngInfo.add_text` writes, which is what A1111 uses: tEXt when the text is
 * Latin-1, otherwise an uncompressed iTXt holding UTF-8 (so CJK prompts keep their characters).
 */
export const pngTextChunk = ({ keyword, text }: PngTextEntry): PngChunk => {
  checkKeyword(keyword)
  const key = latin1Bytes(keyword)
  if (isLatin1(text)) {
    const body = latin1Bytes(text)
    const data = new Uint8Array(key.length + 1 + body.length)
    data.set(key, 0)
    data.set(body, key.length + 1)
    return { type: "tEXt", data }
  }
  const body = utf8.encode(text)
  // keyword, NUL, compression flag 0, method 0, empty language tag + NUL, empty translated keyword + NUL
  const data = new Uint8Array(key.length + 5 + body.length)
  data.set(key, 0)
  data.set(body, key.length + 5)
  return { type: "iTXt", data }
}

const nul = (data: Uint8Array, from: number, type: string): number => {
  const at = data.indexOf(0, from)
  if (at < 0) throw new DatasetError({ message: `not a valid PNG: ${type} chunk without its NUL separator` })
  return at
}

/** Reads one tEXt, zTXt or iTXt chunk. */
export const decodePngText = ({ type, data }: PngChunk): PngTextEntry => {
  const keyEnd = nul(data, 0, type)
  const keyword = latin1Text(data.subarray(0, keyEnd))
  if (type === "tEXt") return { keyword, text: latin1Text(data.subarray(keyEnd + 1)) }
  if (type === "zTXt") return { keyword, text: latin1Text(inflateSync(data.subarray(keyEnd + 2))) }
  if (type !== "iTXt") throw new DatasetError({ message: `${type} is not a PNG text chunk` })
  const compressed = data[keyEnd + 1] === 1
  const languageEnd = nul(data, keyEnd + 3, type)
  const translatedEnd = nul(data, languageEnd + 1, type)
  const body = data.subarray(translatedEnd + 1)
  return { keyword, text: utf8Text.decode(compressed ? inflateSync(body) : body) }
}

/** Every text entry of a PNG, in file order. */
export const readPngText = (png: Uint8Array): ReadonlyArray<PngTextEntry> =>
  readPngChunks(png)
    .filter((chunk) => textTypes.has(chunk.type))
    .map(decodePngText)

/**
 * Returns the PNG with these text entries, replacing any earlier entry with the same keyword. They go
 * right before the first IDAT, where Pillow puts them: sharp's `metadata().comments` only reports text
 * chunks that precede the image data.
 */
export const withPngText = (png: Uint8Array, entries: ReadonlyArray<PngTextEntry>): Uint8Array => {
  const keywords = new Set(entries.map((entry) => entry.keyword))
  const kept = readPngChunks(png).filter(
    (chunk) => !(textTypes.has(chunk.type) && keywords.has(decodePngText(chunk).keyword)),
  )
  const firstData = kept.findIndex((chunk) => chunk.type === "IDAT")
  const at = firstData < 0 ? kept.length - 1 : firstData
  return writePngChunks([...kept.slice(0, at), ...entries.map(pngTextChunk), ...kept.slice(at)])
}
