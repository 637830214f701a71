import { runConformance } from "@danlu/core/testing"
import { Effect } from "effect"
import { acquireDevice } from "../src/device/acquireDevice.js"
import { WebGpu } from "../src/index.js"

// Every float is computed in f32 and rounded once to f16 on store, as the reference does. Adapters
// without `shader-f16` refuse f16 graphs, so the f16 suite only registers where the feature exists.
const hasF16 = await Effect.runPromise(
  Effect.scoped(acquireDevice()).pipe(
    Effect.map((acquired) => acquired.features.has("shader-f16")),
    Effect.orElseSucceed(() => true),
  ),
)
if (!hasF16) console.warn("webgpu f16 conformance skipped: this adapter does not offer shader-f16")

runConformance({ name: "webgpu", layer: WebGpu.layer(), dtypes: hasF16 ? ["f16"] : [] })
