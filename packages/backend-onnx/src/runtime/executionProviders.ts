import { BackendUnavailable } from "@danlu/core"
import { Effect } from "effect"
import onnxProto from "onnx-proto"
import { opsetVersion } from "../onnx/modelBuilder.js"
import { backendName, type OrtModule } from "./ortRuntime.js"

/** Execution providers by the names onnxruntime-node uses. */
export type ExecutionProvider = "cpu" | "cuda" | "tensorrt" | "webgpu" | (string & {})

const installHints: Readonly<Record<string, string>> = {
  cuda: "ONNX Runtime's CUDA libraries are not installed (install onnxruntime-node with --onnxruntime-node-install=cuda12 on a machine with CUDA 12 and cuDNN 9)",
  tensorrt:
    "ONNX Runtime's TensorRT libraries are not installed (they come with the CUDA build of onnxruntime-node plus a TensorRT install)",
}

const firstLine = (text: string): string => text.split("\n")[0]?.trim() ?? text

/** A one-node model used to check that a provider really starts (a listed provider may lack its libraries). */
const probeModel = (): Uint8Array => {
  const { onnx } = onnxProto
  const value = (name: string) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } },
  })
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 10,
      opsetImport: [{ domain: "", version: opsetVersion }],
      graph: {
        name: "probe",
        node: [{ opType: "Identity", input: ["x"], output: ["y"] }],
        input: [value("x")],
        output: [value("y")],
      },
    }),
  ).finish()
}

/** Why a provider cannot run here, or undefined when it starts. */
export const providerProblem = (
  ort: OrtModule,
  provider: ExecutionProvider,
): Effect.Effect<string | undefined> =>
  Effect.gen(function* () {
    if (provider === "cpu") return undefined
    const known = ort.listSupportedBackends().map((b) => b.name)
    if (!known.includes(provider)) {
      return `this onnxruntime-node build has no "${provider}" provider (it has: ${known.join(", ")})`
    }
    return yield* Effect.promise(() =>
      ort.InferenceSession.create(probeModel(), { executionProviders: [provider], logSeverityLevel: 4 }).then(
        async (session) => {
          await session.release()
          return undefined
        },
        (cause: unknown) =>
          installHints[provider] ?? firstLine(cause instanceof Error ? cause.message : String(cause)),
      ),
    )
  })

/**
 * The providers a session is created with: the configured ones that start here, then the CPU provider,
 * which runs whatever nodes the others cannot. A missing provider is one warning line and is dropped
 * (`fallback: "cpu"`) or fails with `BackendUnavailable` (`fallback: "error"`).
 */
export const resolveProviders = (
  ort: OrtModule,
  wanted: ReadonlyArray<ExecutionProvider>,
  fallback: "cpu" | "error",
): Effect.Effect<ReadonlyArray<ExecutionProvider>, BackendUnavailable> =>
  Effect.gen(function* () {
    const usable: Array<ExecutionProvider> = []
    for (const provider of wanted) {
      const problem = yield* providerProblem(ort, provider)
      if (problem === undefined) {
        if (!usable.includes(provider)) usable.push(provider)
      } else if (fallback === "error") {
        return yield* new BackendUnavailable({
          backend: backendName,
          reason: `execution provider "${provider}": ${problem}`,
        })
      } else {
        yield* Effect.logWarning(
          `onnxruntime: execution provider "${provider}" is unavailable (${problem}); using the CPU`,
        )
      }
    }
    if (!usable.includes("cpu")) usable.push("cpu")
    return usable
  })
