import { Effect } from "effect"
import { toHostTensor } from "../../io/storedTensor.js"
import type { TensorFile } from "../../io/tensorFile.js"
import { fromBF16Bits, fromF16Bits } from "../../tensor/halfFloat.js"
import type { BaseFamily, Prediction } from "./baseVersion.js"
import type { UNetNaming, UNetSignature } from "./unetSignature.js"

export interface PredictionEvidence {
  readonly prediction: Prediction
  readonly basis: string
}

/** The tensor ComfyUI's SD2 v-prediction heuristic looks at, in each naming. */
const probeKey: Readonly<Record<UNetNaming, string>> = {
  ldm: "output_blocks.11.1.transformer_blocks.0.norm1.bias",
  diffusers: "up_blocks.3.attentions.2.transformer_blocks.0.norm1.bias",
}

const populationStd = (values: ArrayLike<number>): number => {
  let mean = 0
  for (let i = 0; i < values.length; i++) mean += values[i]!
  mean /= values.length
  let variance = 0
  for (let i = 0; i < values.length; i++) variance += (values[i]! - mean) ** 2
  return Math.sqrt(variance / values.length)
}

/**
 * Says whether a checkpoint predicts noise (epsilon) or v. SD1 and SD2-inpainting are epsilon; SDXL is epsilon
 * unless the file carries a `v_pred` key (ComfyUI's rule). SD2 768-v and 512-base have identical layouts, so
 * the weights cannot say for sure: like ComfyUI, we read one LayerNorm bias and call it v when its standard
 * deviation exceeds 0.09, and say that this is a heuristic. Metadata (`modelspec.prediction_type`) wins.
 */
export const detectPrediction = (
  file: TensorFile,
  family: BaseFamily | undefined,
  unet: UNetSignature | undefined,
  unetPrefix: string,
  naming: UNetNaming,
): Effect.Effect<PredictionEvidence> =>
  Effect.gen(function* () {
    const declared = file.metadata["modelspec.prediction_type"]
    if (declared === "epsilon" || declared === "v") {
      return { prediction: declared, basis: "modelspec.prediction_type metadata" }
    }
    if (family === "sd1") return { prediction: "epsilon", basis: "SD 1.x models predict noise" }
    if (family === "sdxl" || family === "sdxl-refiner") {
      return file.tensors.some((tensor) => tensor.name === "v_pred")
        ? { prediction: "v", basis: "the file has a v_pred key" }
        : { prediction: "epsilon", basis: "SDXL models predict noise unless marked v_pred" }
    }
    if (family !== "sd2") return { prediction: "unknown", basis: "unknown model family" }
    if (unet === undefined)
      return { prediction: "unknown", basis: "SD 2 without a UNet: nothing to tell epsilon from v" }
    if (unet.inChannels !== 4)
      return { prediction: "epsilon", basis: "SD 2 inpainting/depth models predict noise" }
    const name = `${unetPrefix}${probeKey[naming]}`
    if (!file.tensors.some((tensor) => tensor.name === name)) {
      return {
        prediction: "unknown",
        basis: `SD 2 512-base (epsilon) and 768-v (v) share one layout and ${name} is missing`,
      }
    }
    const stored = yield* Effect.option(file.read(name))
    if (stored._tag === "None") return { prediction: "unknown", basis: `could not read ${name}` }
    const host = toHostTensor(stored.value)
    const values =
      host.dtype === "f16"
        ? Float64Array.from(host.data, fromF16Bits)
        : host.dtype === "bf16"
          ? Float64Array.from(host.data, fromBF16Bits)
          : Float64Array.from(host.data)
    const std = populationStd(values)
    return {
      prediction: std > 0.09 ? "v" : "epsilon",
      basis: `heuristic (ComfyUI): std of ${probeKey[naming]} is ${std.toFixed(4)}, v above 0.09; a .yaml or modelspec metadata would be authoritative`,
    }
  })
