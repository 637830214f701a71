// A stand-in with the compute of a real WD v3 tagger, for benchmarks only: the layer shapes of
// ViT-B/16 at 448² (wd-vit-tagger-v3: 784 patch tokens, width 768, 12 blocks, MLP 3072) and a
// 10,861-tag sigmoid head. Attention is single-head (the same FLOPs as 12 heads of 64); LayerNorm and
// GELU are left out or replaced by ReLU, which cost almost nothing next to the matrix products.
// The weights are seeded noise: the outputs mean nothing, only the time does.
import { onnxGraph } from "@danlu/tagger/testing"

const {
  encodeModel,
  floatInitializer,
  floatValue,
  int64Initializer,
  intsAttribute,
  intAttribute,
  node,
  seededValues,
} = onnxGraph

export const vitB16 = { size: 448, patch: 16, width: 768, depth: 12, mlp: 3072, tags: 10861 }

/** Multiply-accumulates per image of the model built with these settings. */
export const macsPerImage = ({ size, patch, width, depth, mlp, tags }) => {
  const tokens = (size / patch) ** 2
  const patchEmbed = tokens * width * patch * patch * 3
  const perBlock = tokens * width * width * 4 + 2 * tokens * tokens * width + 2 * tokens * width * mlp
  return patchEmbed + depth * perBlock + width * tags
}

export const buildVitCostModel = (settings = vitB16) => {
  const { size, patch, width, depth, mlp, tags } = settings
  const tokens = (size / patch) ** 2
  let seed = 1
  const weight = (name, dims) => {
    const fanIn = dims.length === 4 ? dims[1] * dims[2] * dims[3] : dims[0]
    return floatInitializer(
      name,
      dims,
      seededValues(
        dims.reduce((a, b) => a * b, 1),
        seed++,
        0.5 / Math.sqrt(fanIn),
      ),
    )
  }
  const initializers = [
    floatInitializer("inv255", [], new Float32Array([1 / 255])),
    floatInitializer("attention_scale", [], new Float32Array([1 / Math.sqrt(width)])),
    int64Initializer("token_shape", [0, width, tokens]),
    weight("patch_embed", [width, 3, patch, patch]),
  ]
  const nodes = [
    node("Mul", ["input_1:0", "inv255"], ["scaled"]),
    node("Transpose", ["scaled"], ["nchw"], [intsAttribute("perm", [0, 3, 1, 2])]),
    node(
      "Conv",
      ["nchw", "patch_embed"],
      ["patches"],
      [intsAttribute("kernel_shape", [patch, patch]), intsAttribute("strides", [patch, patch])],
    ),
    node("Reshape", ["patches", "token_shape"], ["tokens_cf"]),
    node("Transpose", ["tokens_cf"], ["h0"], [intsAttribute("perm", [0, 2, 1])]),
  ]
  for (let b = 0; b < depth; b++) {
    const h = `h${b}`
    const p = (name) => `b${b}_${name}`
    for (const [name, dims] of [
      ["wq", [width, width]],
      ["wk", [width, width]],
      ["wv", [width, width]],
      ["wo", [width, width]],
      ["w1", [width, mlp]],
      ["w2", [mlp, width]],
    ]) {
      initializers.push(weight(p(name), dims))
    }
    nodes.push(
      node("MatMul", [h, p("wq")], [p("q")]),
      node("MatMul", [h, p("wk")], [p("k")]),
      node("MatMul", [h, p("wv")], [p("v")]),
      node("Transpose", [p("k")], [p("kt")], [intsAttribute("perm", [0, 2, 1])]),
      node("MatMul", [p("q"), p("kt")], [p("scores_raw")]),
      node("Mul", [p("scores_raw"), "attention_scale"], [p("scores")]),
      node("Softmax", [p("scores")], [p("attention")], [intAttribute("axis", -1)]),
      node("MatMul", [p("attention"), p("v")], [p("mixed")]),
      node("MatMul", [p("mixed"), p("wo")], [p("projected")]),
      node("Add", [h, p("projected")], [p("h_attn")]),
      node("MatMul", [p("h_attn"), p("w1")], [p("hidden")]),
      node("Relu", [p("hidden")], [p("activated")]),
      node("MatMul", [p("activated"), p("w2")], [p("mlp_out")]),
      node("Add", [p("h_attn"), p("mlp_out")], [`h${b + 1}`]),
    )
  }
  initializers.push(weight("head", [width, tags]))
  nodes.push(
    node("ReduceMean", [`h${depth}`], ["pooled"], [intsAttribute("axes", [1]), intAttribute("keepdims", 0)]),
    node("MatMul", ["pooled", "head"], ["logits"]),
    node("Sigmoid", ["logits"], ["predictions_sigmoid"]),
  )
  return encodeModel({
    input: floatValue("input_1:0", ["batch", size, size, 3]),
    output: floatValue("predictions_sigmoid", ["batch", tags]),
    initializers,
    nodes,
  })
}
