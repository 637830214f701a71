import { checkpoint } from "../../autodiff/checkpoint.js"
import { gelu } from "../../composites/activations.js"
import { quickGelu } from "../../nn/activations.js"
import { causalMask, multiHeadAttention } from "../../nn/attention.js"
import { inProjection } from "../../nn/inProjection.js"
import { layerNorm } from "../../nn/layerNorm.js"
import { linear } from "../../nn/linear.js"
import type { WeightScope } from "../../nn/weightScope.js"
import { shapeError } from "../../ops/check.js"
import { add } from "../../ops/elementwise.js"
import { gather } from "../../ops/indexing.js"
import { matmul } from "../../ops/linalg.js"
import { sliceAxis } from "../../ops/movement.js"
import type { Tensor } from "../../tensor/tensor.js"
import type { ModelBuildOptions } from "../buildOptions.js"
import type { ClipTextConfig } from "./config.js"

/** What a CLIP text transformer computes, for the conditioning rules of each model family to pick from. */
export interface TextTransformerOutput {
  /** `[B, L, width]` after the embeddings (index 0) and after each layer (index i), as HF `hidden_states`. */
  readonly hidden: ReadonlyArray<Tensor>
  /** The final LayerNorm (`final_layer_norm` / `ln_final`), for any hidden state. */
  readonly finalLayerNorm: (x: Tensor) => Tensor
  /** `x @ text_projection` (OpenCLIP `[width, projectionDim]`); undefined when the model has none. */
  readonly project: ((pooled: Tensor) => Tensor) | undefined
}

interface LayerNames {
  readonly layer: (scope: WeightScope, i: number) => WeightScope
  readonly norm1: string
  readonly norm2: string
  readonly fc1: string
  readonly fc2: string
}

const hfNames: LayerNames = {
  layer: (scope, i) => scope.at("text_model", "encoder", "layers", i),
  norm1: "layer_norm1",
  norm2: "layer_norm2",
  fc1: "fc1",
  fc2: "fc2",
}

const openClipNames: LayerNames = {
  layer: (scope, i) => scope.at("transformer", "resblocks", i).alias(`text_model.encoder.layers.${i}`),
  norm1: "ln_1",
  norm2: "ln_2",
  fc1: "c_fc",
  fc2: "c_proj",
}

const attentionBlock = (scope: WeightScope, config: ClipTextConfig, x: Tensor, mask: Tensor): Tensor => {
  const d = config.width
  if (config.layout === "hf") {
    const attn = scope.at("self_attn").within("CLIPAttention")
    const project = (name: string): Tensor => linear(attn.at(name), x, { inFeatures: d, outFeatures: d })
    const heads = multiHeadAttention(
      project("q_proj"),
      project("k_proj"),
      project("v_proj"),
      config.heads,
      mask,
    )
    return linear(attn.at("out_proj"), heads, { inFeatures: d, outFeatures: d })
  }
  const attn = scope.at("attn").alias("self_attn").within("CLIPAttention")
  const [q, k, v] = inProjection(attn, x, d)
  return linear(attn.at("out_proj"), multiHeadAttention(q, k, v, config.heads, mask), {
    inFeatures: d,
    outFeatures: d,
  })
}

const mlpBlock = (scope: WeightScope, config: ClipTextConfig, names: LayerNames, x: Tensor): Tensor => {
  const mlp = scope.at("mlp").within("CLIPMLP")
  const hidden = linear(mlp.at(names.fc1).alias("fc1"), x, {
    inFeatures: config.width,
    outFeatures: config.mlpWidth,
  })
  const activated = config.activation === "quick_gelu" ? quickGelu(hidden) : gelu(hidden)
  return linear(mlp.at(names.fc2).alias("fc2"), activated, {
    inFeatures: config.mlpWidth,
    outFeatures: config.width,
  })
}

export interface TextTransformerOptions extends ModelBuildOptions {
  /** Build the last layer without LoRA adapters, for a model that never uses its output (SD2). */
  readonly unadaptedLastLayer?: boolean
}

/**
 * The CLIP text transformer of OpenAI CLIP / OpenCLIP: token + position embeddings, pre-LayerNorm layers with
 * causal self-attention and an MLP, a final LayerNorm. `scope` is the model's root in the checkpoint
 * (`cond_stage_model.transformer` for "hf", `cond_stage_model.model` for "openclip"); `tokens` is `[B, L]`
 * i32 with L ≤ maxPositions. Builds every layer (so LoRA finds all of them); which hidden state feeds the
 * UNet is the caller's choice (clip skip).
 */
export const textTransformer = (
  scope: WeightScope,
  config: ClipTextConfig,
  tokens: Tensor,
  component = "te",
  options: TextTransformerOptions = {},
): TextTransformerOutput => {
  const root = scope.component(component)
  const length = tokens.shape[1]!
  if (tokens.rank !== 2 || length > config.maxPositions)
    shapeError("textTransformer", `tokens must be [B, L] with L ≤ ${config.maxPositions}`, tokens.shape)
  const names = config.layout === "hf" ? hfNames : openClipNames
  const table: [number, number] = [config.vocabSize, config.width]
  const place: [number, number] = [config.maxPositions, config.width]
  const tokenTable =
    config.layout === "hf"
      ? root.at("text_model", "embeddings", "token_embedding").weight("weight", table)
      : root.weight("token_embedding.weight", table)
  const positions =
    config.layout === "hf"
      ? root.at("text_model", "embeddings", "position_embedding").weight("weight", place)
      : root.weight("positional_embedding", place)
  let x: Tensor = add(gather(tokenTable, tokens), sliceAxis(positions, 0, 0, length))
  const mask = causalMask(length, scope.dtype)
  const hidden = [x]
  for (let i = 0; i < config.layers; i++) {
    const unadapted = options.unadaptedLastLayer === true && i === config.layers - 1
    const layer = names.layer(unadapted ? root.unadapted() : root, i)
    const body = (h: Tensor): Tensor => {
      const attended = add(
        h,
        attentionBlock(layer, config, layerNorm(layer.at(names.norm1), h, config.width), mask),
      )
      return add(
        attended,
        mlpBlock(layer, config, names, layerNorm(layer.at(names.norm2), attended, config.width)),
      )
    }
    x = options.gradientCheckpointing ? checkpoint([x], body) : body(x)
    hidden.push(x)
  }
  const finalNorm = config.layout === "hf" ? root.at("text_model", "final_layer_norm") : root.at("ln_final")
  const projectionDim = config.projectionDim
  return {
    hidden,
    finalLayerNorm: (h) => layerNorm(finalNorm, h, config.width),
    project:
      projectionDim === undefined
        ? undefined
        : (pooled) =>
            config.layout === "hf"
              ? linear(root.at("text_projection"), pooled, {
                  inFeatures: config.width,
                  outFeatures: projectionDim,
                  bias: false,
                })
              : matmul(pooled, root.weight("text_projection", [config.width, projectionDim])),
  }
}
