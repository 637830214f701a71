import { ExecutionProviderUnavailable } from "../errors.js"

/**
 * ONNX Runtime execution providers by the names users type. `cpu` is always there; the others exist
 * only where their runtime libraries were installed.
 */
export type ExecutionProvider = "cpu" | "cuda" | "tensorrt" | "webgpu" | "dml" | "coreml" | (string & {})

export const defaultExecutionProvider: ExecutionProvider = "cpu"

const installHints: Record<string, string> = {
  cuda: "ONNX Runtime's CUDA libraries are not installed (install onnxruntime-node with --onnxruntime-node-install=cuda12 on a machine with CUDA 12 and cuDNN 9)",
  tensorrt:
    "ONNX Runtime's TensorRT libraries are not installed (they come with the CUDA build of onnxruntime-node plus a TensorRT install)",
}

/** Checks the name against the providers this onnxruntime-node build knows. */
export const checkExecutionProvider = (
  provider: string,
  supported: ReadonlyArray<{ readonly name: string }>,
): ExecutionProviderUnavailable | undefined => {
  const names = supported.map((backend) => backend.name)
  if (names.includes(provider)) return undefined
  return new ExecutionProviderUnavailable({
    provider,
    message: `execution provider "${provider}" is not in this ONNX Runtime build (it has: ${names.join(", ")})`,
  })
}

/** The one line a user sees when a known provider fails to start, e.g. missing CUDA libraries. */
export const providerLoadFailed = (provider: string, cause: string): ExecutionProviderUnavailable =>
  new ExecutionProviderUnavailable({
    provider,
    message: `execution provider "${provider}" could not start: ${installHints[provider] ?? firstLine(cause)}`,
  })

const firstLine = (text: string) => text.split("\n")[0]?.trim() ?? text

/** Whether an ONNX Runtime error is about the provider itself rather than the model. */
export const isProviderLoadError = (message: string): boolean =>
  /ExecutionProvider|shared library|providers_|backend not found|CUDA|TensorRT|cudnn/i.test(message)
