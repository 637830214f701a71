import { buildTinyWd14Model, meanColourWeights, selectedTagsCsv } from "@danlu/tagger/testing"

/**
 * A stand-in WD1.4 tagger for the demo: the real contract (NHWC BGR input, one probability per CSV row)
 * with weights that read each image's mean colour, so its tags are predictable. Real taggers are
 * hundreds of MB and are never downloaded by danlu; point `danlu tag --model` at yours.
 */
const tags = [
  { name: "general", category: 9, a: [0, 0, 0], bias: 3 },
  { name: "1girl", category: 0, a: [0, 0, 0], bias: 4 },
  { name: "pink_hair", category: 0, a: [0, 0, 0], bias: 3 },
  { name: "solo", category: 0, a: [0, 0, 0], bias: 2 },
  { name: "blue_background", category: 0, a: [10, -4, -8], bias: -1 },
  { name: "white_background", category: 0, a: [4, 4, 4], bias: -10 },
  { name: "outdoors", category: 0, a: [-4, 8, -4], bias: -2 },
  { name: "smile", category: 0, a: [0, 0, 0], bias: 0.5 },
] as const

export const demoTagger = (): { readonly model: Uint8Array; readonly csv: string } => {
  const size = 16
  const { weights, bias } = meanColourWeights(size, tags)
  return {
    model: buildTinyWd14Model({ size, weights, bias }).bytes,
    csv: selectedTagsCsv(tags.map(({ name, category }) => ({ name, category }))),
  }
}
