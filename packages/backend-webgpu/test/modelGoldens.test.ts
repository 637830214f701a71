import { runModelGoldens } from "@danlu/core/testing"
import { WebGpu } from "../src/index.js"

runModelGoldens({ name: "webgpu", layer: WebGpu.layer() })
