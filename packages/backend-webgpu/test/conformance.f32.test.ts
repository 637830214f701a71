import { runConformance } from "@danlu/core/testing"
import { WebGpu } from "../src/index.js"

// f32 and f16 sit in two files so vitest compiles their pipelines on two workers at once.
runConformance({ name: "webgpu", layer: WebGpu.layer(), dtypes: ["f32"] })
