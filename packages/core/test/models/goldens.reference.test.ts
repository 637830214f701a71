import { layer } from "../../src/reference/index.js"
import { runModelGoldens } from "../../src/testing/index.js"

// The reference rounds every f32 result as a device does; its errors against PyTorch's f64 stay near 2e-6.
runModelGoldens({ name: "reference", layer, tolerance: 5e-6 })
