import { buildTinyWd14Model, meanColourWeights, selectedTagsCsv } from "../src/testing/index.js"
import { tempDir, writeFileIn } from "./fixtures.js"

/** A tiny tagger whose tags follow an image's mean colour (see `meanColourWeights`), so tests know the answer. */
const size = 4
const tags = [
  { name: "general", category: 9, a: [0, 0, 0], bias: 0.5 },
  { name: "sensitive", category: 9, a: [0, 0, 4], bias: -2 },
  { name: "red_hair", category: 0, a: [-6, -6, 6], bias: -3 },
  { name: "blue_eyes", category: 0, a: [6, -6, -6], bias: -3 },
  { name: "^_^", category: 0, a: [0, 0, 0], bias: 0 },
  { name: "hatsune_miku", category: 4, a: [-4, -4, 6.2], bias: -4 },
] as const

export const colourTagger = async () => {
  const dir = await tempDir()
  const model = buildTinyWd14Model({ size, ...meanColourWeights(size, tags) })
  return {
    model: await writeFileIn(dir, "model.onnx", model.bytes),
    tags: await writeFileIn(dir, "selected_tags.csv", selectedTagsCsv(tags)),
  }
}

/** What the colour tagger writes with default options. */
export const expectedCaption = {
  red: "red hair, hatsune miku, ^_^",
  blue: "blue eyes, ^_^",
  white: "^_^",
} as const
