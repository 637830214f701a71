import { buildTinyWd14Model, selectedTagsCsv } from "../src/testing/index.js"
import { tempDir, writeFileIn } from "./fixtures.js"

/**
 * A tiny tagger whose tags follow an image's mean colour, so that tests know the answer:
 * logit = aB·meanB + aG·meanG + aR·meanR + bias, means 0–1.
 */
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
  const pixels = size * size
  const weights = new Float32Array(pixels * 3 * tags.length)
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      tags.forEach((tag, t) => {
        weights[(p * 3 + c) * tags.length + t] = tag.a[c]! / pixels
      })
    }
  }
  const model = buildTinyWd14Model({ size, weights, bias: new Float32Array(tags.map((tag) => tag.bias)) })
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
