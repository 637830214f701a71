import { runConformance } from "@danlu/core/testing"
import { layer } from "../src/index.js"

runConformance({ name: "onnxruntime", layer, dtypes: ["f32", "f16", "bf16"] })
