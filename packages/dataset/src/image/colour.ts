import type { Rgb } from "./decode.js"

const named: Readonly<Record<string, Rgb>> = {
  white: { r: 255, g: 255, b: 255 },
  black: { r: 0, g: 0, b: 0 },
  grey: { r: 128, g: 128, b: 128 },
  gray: { r: 128, g: 128, b: 128 },
}

/** Parses "white", "black", "grey", "#rgb", "#rrggbb" or "r,g,b" (0–255); undefined otherwise. */
export const parseColour = (text: string): Rgb | undefined => {
  const value = text.trim().toLowerCase()
  const byName = named[value]
  if (byName !== undefined) return byName
  const short = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/.exec(value)
  if (short !== null) {
    const [r, g, b] = [short[1]!, short[2]!, short[3]!].map((d) => Number.parseInt(d + d, 16))
    return { r: r!, g: g!, b: b! }
  }
  const long = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(value)
  if (long !== null) {
    return {
      r: Number.parseInt(long[1]!, 16),
      g: Number.parseInt(long[2]!, 16),
      b: Number.parseInt(long[3]!, 16),
    }
  }
  const triple = /^(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})$/.exec(value)
  if (triple !== null) {
    const [r, g, b] = [triple[1]!, triple[2]!, triple[3]!].map(Number)
    if (r! <= 255 && g! <= 255 && b! <= 255) return { r: r!, g: g!, b: b! }
  }
  return undefined
}
