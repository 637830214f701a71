import {
  encodeModel,
  floatInitializer,
  floatValue,
  int64Initializer,
  node,
  seededValues,
} from "./onnxGraph.js"

export interface TinyWd14Options {
  /** Input side; default 8. */
  readonly size?: number
  /** Number of tags (outputs); must match the CSV. Default: the length of `bias`, else 8. */
  readonly tags?: number
  /** `size²·3 × tags` weights, row-major, applied to the NHWC input scaled to 0–1. Default: seeded. */
  readonly weights?: Float32Array
  /** `tags` biases. Default: seeded. */
  readonly bias?: Float32Array
  /** Export with this fixed batch (like WD1.4 v2) instead of a dynamic one (v3). */
  readonly fixedBatch?: number
  readonly inputName?: string
}

export interface TinyWd14Model {
  readonly bytes: Uint8Array
  readonly size: number
  readonly tags: number
  readonly weights: Float32Array
  readonly bias: Float32Array
}

/**
 * A WD1.4-contract model small enough for tests: input `[batch, size, size, 3]` float32 BGR 0–255
 * (NHWC), output `[batch, tags]` probabilities (the sigmoid is inside the graph, as in the real models).
 * Every input value has its own weight, so channel order and padding position change the output.
 *
 * probabilities = sigmoid(flatten(input) / 255 · weights + bias)
 */
export const buildTinyWd14Model = (options: TinyWd14Options = {}): TinyWd14Model => {
  const size = options.size ?? 8
  const tags = options.tags ?? options.bias?.length ?? 8
  const features = size * size * 3
  const weights = options.weights ?? seededValues(features * tags, 7, 4 / Math.sqrt(features))
  const bias = options.bias ?? seededValues(tags, 11, 1)
  if (weights.length !== features * tags || bias.length !== tags) {
    throw new Error(`tiny model: expected ${features * tags} weights and ${tags} biases`)
  }
  const batch = options.fixedBatch ?? "batch"
  const input = options.inputName ?? "input_1:0"
  const bytes = encodeModel({
    input: floatValue(input, [batch, size, size, 3]),
    output: floatValue("predictions_sigmoid", [batch, tags]),
    initializers: [
      int64Initializer("flat_shape", [-1, features]),
      floatInitializer("inv255", [], new Float32Array([1 / 255])),
      floatInitializer("weights", [features, tags], weights),
      floatInitializer("bias", [tags], bias),
    ],
    nodes: [
      node("Reshape", [input, "flat_shape"], ["flat"]),
      node("Mul", ["flat", "inv255"], ["scaled"]),
      node("MatMul", ["scaled", "weights"], ["logits_raw"]),
      node("Add", ["logits_raw", "bias"], ["logits"]),
      node("Sigmoid", ["logits"], ["predictions_sigmoid"]),
    ],
  })
  return { bytes, size, tags, weights, bias }
}

/** The model's output for one NHWC input, computed in plain TypeScript (float64). */
export const tinyWd14Reference = (model: TinyWd14Model, input: Float32Array): Float64Array => {
  const out = new Float64Array(model.tags)
  for (let t = 0; t < model.tags; t++) {
    let sum = model.bias[t]!
    for (let i = 0; i < input.length; i++) sum += (input[i]! / 255) * model.weights[i * model.tags + t]!
    out[t] = 1 / (1 + Math.exp(-sum))
  }
  return out
}

/**
 * A `selected_tags.csv` for a model with `names.length` outputs. Categories: 9 rating, 0 general,
 * 4 character, in the row order the real lists use.
 */
export const selectedTagsCsv = (
  rows: ReadonlyArray<{ readonly name: string; readonly category: 0 | 4 | 9 }>,
): string => {
  const quote = (text: string) => (/[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text)
  return [
    "tag_id,name,category,count",
    ...rows.map((row, i) => `${1000 + i},${quote(row.name)},${row.category},${100 - i}`),
  ].join("\n")
}

/**
 * Weights for {@link buildTinyWd14Model} that make each tag follow the image's mean colour, so a test
 * knows every probability: logit = a[0]·meanB + a[1]·meanG + a[2]·meanR + bias, with means in 0–1.
 */
export const meanColourWeights = (
  size: number,
  tags: ReadonlyArray<{ readonly a: readonly [number, number, number]; readonly bias: number }>,
): { readonly weights: Float32Array; readonly bias: Float32Array } => {
  const pixels = size * size
  const weights = new Float32Array(pixels * 3 * tags.length)
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      for (let t = 0; t < tags.length; t++) weights[(p * 3 + c) * tags.length + t] = tags[t]!.a[c]! / pixels
    }
  }
  return { weights, bias: new Float32Array(tags.map((tag) => tag.bias)) }
}
