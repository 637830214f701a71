import { runModelGoldens } from "@danlu/core/testing"
import { layer } from "../src/index.js"

runModelGoldens({ name: "onnxruntime", layer })
