import { layer } from "../../src/reference/ReferenceBackend.js"
import { runConformance, runFiniteDifferenceChecks } from "../../src/testing/index.js"

runConformance({ name: "reference", layer, dtypes: ["f32", "f16", "bf16"] })
runFiniteDifferenceChecks()
