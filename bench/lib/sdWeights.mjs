// Random weights for benchmark models: speed does not depend on the values, only on their being finite and
// keeping activations in range (norm scales 1, everything else small).

const count = (shape) => shape.reduce((a, b) => a * b, 1)

/** Values from an LCG, uniform in ±scale. */
export const lcgData = (n, seed, scale = 0.01) => {
  const data = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    data[i] = (s / 2 ** 32 - 0.5) * 2 * scale
  }
  return data
}

/**
 * Uploads every weight a model scope asked for, in the dtype the scope holds it (f16/bf16 under mixed
 * precision); returns the state buffers by name, the parameter count and the bytes uploaded.
 */
export const uploadScopeWeights = async (backend, scope) => {
  const { castHostFloat } = await import("@danlu/core")
  const states = {}
  let bytes = 0
  let parameters = 0
  for (const [i, entry] of [...scope.manifest().values()].entries()) {
    const n = count(entry.shape)
    parameters += n
    const data =
      entry.shape.length === 1
        ? new Float32Array(n).fill(entry.key.endsWith("weight") ? 1 : 0)
        : lcgData(n, i + 1)
    const host = castHostFloat({ dtype: "f32", shape: entry.shape, data }, entry.dtype)
    bytes += host.data.byteLength
    states[entry.key] = await backend.upload(host)
  }
  return { states, parameters, bytes }
}
