import { runConformance } from "@danlu/core/testing"
import { WebGpu } from "../src/index.js"

// Every float is computed in f32 and rounded once to f16 on store, as the reference does.
runConformance({ name: "webgpu", layer: WebGpu.layer(), dtypes: ["f16"] })
