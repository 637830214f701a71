import type { ModuleInfo } from "../nn/weightScope.js"

/** Rank and alpha of the LoRA a layer gets. */
export interface LoraShape {
  readonly rank: number
  readonly alpha: number
}

/**
 * Which layers get a LoRA: "kohya" (default) is sd-scripts' rule; "attention" keeps only the attention
 * projections (UNet `to_q`/`to_k`/`to_v`/`to_out.0`, text encoder `q_proj`/`k_proj`/`v_proj`/`out_proj`),
 * LyCORIS's `attn-only` preset.
 */
export type LoraTargets = "kohya" | "attention"

export interface LoraTargetOptions {
  /** Default "kohya". */
  readonly targets?: LoraTargets | undefined
  /** `network_dim`: rank of Linear and 1×1 conv modules. */
  readonly rank: number
  /** `network_alpha` (kohya's default is 1; scale = alpha / rank). */
  readonly alpha: number
  /** `conv_dim`: when set, 3×3 convs of res blocks and resamplers get a LoRA too (LoCon / LoRA-C3Lier). */
  readonly convRank?: number | undefined
  /** `conv_alpha` (kohya's default 1). */
  readonly convAlpha?: number | undefined
}

const transformerClasses = ["Transformer2DModel"]
const convClasses = ["ResnetBlock2D", "Downsample2D", "Upsample2D"]
const textClasses = ["CLIPAttention", "CLIPMLP"]
const attentionClasses = ["Attention", "CLIPAttention"]

/**
 * kohya's `LoRANetwork` target rule: every Linear and 1×1 Conv2d inside a UNet `Transformer2DModel` or a
 * text encoder's `CLIPAttention`/`CLIPMLP`; with `convRank`, also every layer of `ResnetBlock2D`,
 * `Downsample2D` and `Upsample2D` (Linear/1×1 at `rank`, larger kernels at `convRank`). With
 * `targets: "attention"`, only the layers of UNet `Attention` and text-encoder `CLIPAttention` modules.
 */
export const kohyaTarget = (module: ModuleInfo, options: LoraTargetOptions): LoraShape | undefined => {
  const inside = (classes: ReadonlyArray<string>) => module.within.some((c) => classes.includes(c))
  const pointwise = module.kind === "linear" || (module.kernel[0] === 1 && module.kernel[1] === 1)
  const base = { rank: options.rank, alpha: options.alpha }
  if (options.targets === "attention") return inside(attentionClasses) && pointwise ? base : undefined
  if (module.component === "unet") {
    if (inside(transformerClasses)) return pointwise ? base : undefined
    if (options.convRank !== undefined && inside(convClasses)) {
      return pointwise ? base : { rank: options.convRank, alpha: options.convAlpha ?? 1 }
    }
    return undefined
  }
  if (module.component === "te" || module.component === "te1" || module.component === "te2") {
    return inside(textClasses) && pointwise ? base : undefined
  }
  return undefined
}
