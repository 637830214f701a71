/**
 * The procedural image–caption set the bundled base model is pretrained on: one or two flat shapes in named
 * colours, sizes and places, over a plain, textured or two-part background, each with a caption that names
 * all of it. Everything follows from the seed, so `npm run pretrain-demo-model` reproduces the same set.
 */

/** A small deterministic generator (mulberry32): the set must not depend on the platform's Math.random. */
export const seededRandom = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const pick = <T>(random: () => number, items: ReadonlyArray<T>): T =>
  items[Math.floor(random() * items.length)]!

export const colours = {
  red: "#e02020",
  orange: "#f08020",
  yellow: "#f0d020",
  green: "#30a030",
  blue: "#2050e0",
  purple: "#8030c0",
  pink: "#f070b0",
  white: "#f8f8f8",
  black: "#181818",
  brown: "#805030",
} as const

export type ColourName = keyof typeof colours
const colourNames = Object.keys(colours) as ReadonlyArray<ColourName>

export const shapeNames = ["circle", "square", "triangle", "diamond", "ring"] as const
export type ShapeName = (typeof shapeNames)[number]

const places = [
  { name: "", x: 0.5, y: 0.5 },
  { name: "on the left", x: 0.3, y: 0.5 },
  { name: "on the right", x: 0.7, y: 0.5 },
  { name: "at the top", x: 0.5, y: 0.3 },
  { name: "at the bottom", x: 0.5, y: 0.7 },
] as const

export const backgrounds = [
  { caption: "white background", fill: "#ffffff", plain: "white" },
  { caption: "grey background", fill: "#909090", plain: "grey" },
  { caption: "black background", fill: "#101010", plain: "black" },
  { caption: "blue background", fill: "#80b0f0", plain: "blue" },
  { caption: "yellow background", fill: "#f0e0a0", plain: "yellow" },
  { caption: "green background", fill: "#a0d8a0", plain: "green" },
] as const

const textures = ["plain", "striped", "dotted", "checkered"] as const
const sceneries = ["grass and sky", "sea and sky", "night sky"] as const

export interface SceneShape {
  readonly shape: ShapeName
  readonly colour: ColourName
  readonly large: boolean
  readonly x: number
  readonly y: number
  readonly place: string
}

export interface Scene {
  readonly shapes: ReadonlyArray<SceneShape>
  /** A plain or textured colour, or one of the two-part sceneries. */
  readonly background:
    | { readonly kind: "colour"; readonly index: number; readonly texture: (typeof textures)[number] }
    | { readonly kind: "scenery"; readonly name: (typeof sceneries)[number] }
}

/** The `index`-th scene of the set keyed by `seed`. */
export const sceneAt = (seed: number, index: number): Scene => {
  const random = seededRandom((seed * 0x9e3779b1 + index * 0x85ebca6b) >>> 0)
  const count = random() < 0.65 ? 1 : 2
  const used = new Set<number>()
  const shapes: Array<SceneShape> = []
  for (let i = 0; i < count; i++) {
    let placeIndex = count === 1 ? Math.floor(random() * places.length) : 1 + Math.floor(random() * 4)
    while (count === 2 && used.has(placeIndex)) placeIndex = 1 + ((placeIndex + (placeIndex % 2 ? 1 : 2)) % 4)
    used.add(placeIndex)
    const place = places[placeIndex]!
    shapes.push({
      shape: pick(random, shapeNames),
      colour: pick(random, colourNames),
      large: count === 1 && random() < 0.5,
      x: place.x + (random() - 0.5) * 0.08,
      y: place.y + (random() - 0.5) * 0.08,
      place: place.name,
    })
  }
  const background: Scene["background"] =
    random() < 0.25
      ? { kind: "scenery", name: pick(random, sceneries) }
      : {
          kind: "colour",
          index: Math.floor(random() * backgrounds.length),
          texture: random() < 0.55 ? "plain" : pick(random, textures.slice(1)),
        }
  return { shapes, background }
}

/** The caption: each shape with its colour, size and place, then the background. */
export const sceneCaption = (scene: Scene): string => {
  const parts = scene.shapes.map((s) =>
    [s.large ? "large" : "small", s.colour, s.shape, s.place].filter((w) => w !== "").join(" "),
  )
  const bg = scene.background
  if (bg.kind === "scenery") parts.push(bg.name)
  else {
    const { caption } = backgrounds[bg.index]!
    parts.push(bg.texture === "plain" ? caption : `${bg.texture} ${caption}`)
  }
  return parts.join(", ")
}

const shade = (hex: string, amount: number): string => {
  const v = Number.parseInt(hex.slice(1), 16)
  const c = (shift: number) => Math.max(0, Math.min(255, ((v >> shift) & 255) + amount))
  return `rgb(${c(16)},${c(8)},${c(0)})`
}

const backgroundSvg = (scene: Scene, size: number): string => {
  const bg = scene.background
  if (bg.kind === "scenery") {
    const horizon = size * 0.62
    switch (bg.name) {
      case "grass and sky":
        return `<rect width="${size}" height="${size}" fill="#8cc8f0"/><rect y="${horizon}" width="${size}" height="${size - horizon}" fill="#4caf50"/>`
      case "sea and sky":
        return `<rect width="${size}" height="${size}" fill="#bfe0f8"/><rect y="${horizon}" width="${size}" height="${size - horizon}" fill="#1e5aa8"/>`
      case "night sky": {
        const stars = [0.1, 0.3, 0.55, 0.8, 0.9]
          .map(
            (p, i) =>
              `<circle cx="${p * size}" cy="${((i * 0.37) % 1) * size * 0.9 + 2}" r="${size / 48}" fill="#ffffff"/>`,
          )
          .join("")
        return `<rect width="${size}" height="${size}" fill="#0c1440"/>${stars}`
      }
    }
  }
  const { fill } = backgrounds[bg.index]!
  const ink = shade(fill, fill === "#101010" ? 70 : -60)
  const step = size / 8
  const cells: Array<string> = []
  for (let i = 0; i < 8; i++)
    for (let j = 0; j < 8; j++) {
      if (bg.texture === "striped" && j === 0)
        cells.push(`<rect x="${i * step}" width="${step / 2}" height="${size}" fill="${ink}"/>`)
      if (bg.texture === "dotted")
        cells.push(
          `<circle cx="${(i + 0.5) * step}" cy="${(j + 0.5) * step}" r="${step / 5}" fill="${ink}"/>`,
        )
      if (bg.texture === "checkered" && (i + j) % 2 === 0)
        cells.push(`<rect x="${i * step}" y="${j * step}" width="${step}" height="${step}" fill="${ink}"/>`)
    }
  return `<rect width="${size}" height="${size}" fill="${fill}"/>${cells.join("")}`
}

const shapeSvg = (s: SceneShape, size: number): string => {
  const r = size * (s.large ? 0.3 : 0.17)
  const cx = s.x * size
  const cy = s.y * size
  const fill = colours[s.colour]
  const edge = shade(fill, -70)
  const stroke = `stroke="${edge}" stroke-width="${size / 64}"`
  switch (s.shape) {
    case "circle":
      return `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${fill}" ${stroke}/>`
    case "square":
      return `<rect x="${cx - r * 0.9}" y="${cy - r * 0.9}" width="${r * 1.8}" height="${r * 1.8}" fill="${fill}" ${stroke}/>`
    case "triangle":
      return `<polygon points="${cx},${cy - r} ${cx + r},${cy + r * 0.8} ${cx - r},${cy + r * 0.8}" fill="${fill}" ${stroke}/>`
    case "diamond":
      return `<polygon points="${cx},${cy - r} ${cx + r * 0.75},${cy} ${cx},${cy + r} ${cx - r * 0.75},${cy}" fill="${fill}" ${stroke}/>`
    case "ring":
      return `<circle cx="${cx}" cy="${cy}" r="${r * 0.75}" fill="none" stroke="${fill}" stroke-width="${r * 0.5}"/>`
  }
}

/** The scene as an SVG of `size`×`size` pixels. */
export const sceneSvg = (scene: Scene, size: number): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${backgroundSvg(scene, size)}${scene.shapes
    .map((s) => shapeSvg(s, size))
    .join("")}</svg>`
