/**
 * The slice of the safetensors format the latent cache needs: F32 tensors and string metadata,
 * little-endian, header padded to 8 bytes. `@danlu/core` has the full reader/writer
 * (`packages/core/src/io/safetensors.ts`) but does not export it from its entry point yet; when it
 * does, this file gives way to it.
 */

export interface F32Tensor {
  readonly shape: ReadonlyArray<number>
  readonly data: Float32Array
}

const elementCount = (shape: ReadonlyArray<number>) => shape.reduce((n, d) => n * d, 1)

export const encodeSafetensors = (
  tensors: Readonly<Record<string, F32Tensor>>,
  metadata: Readonly<Record<string, string>>,
): Uint8Array => {
  const names = Object.keys(tensors).sort()
  const header: Record<string, unknown> = { __metadata__: metadata }
  let offset = 0
  for (const name of names) {
    const tensor = tensors[name]!
    if (elementCount(tensor.shape) !== tensor.data.length) {
      throw new RangeError(
        `tensor ${name}: shape [${tensor.shape.join(", ")}] does not hold ${tensor.data.length} values`,
      )
    }
    header[name] = {
      dtype: "F32",
      shape: tensor.shape,
      data_offsets: [offset, offset + tensor.data.length * 4],
    }
    offset += tensor.data.length * 4
  }
  const json = new TextEncoder().encode(JSON.stringify(header))
  const headerLength = Math.ceil(json.length / 8) * 8
  const bytes = new Uint8Array(8 + headerLength + offset)
  const view = new DataView(bytes.buffer)
  view.setBigUint64(0, BigInt(headerLength), true)
  bytes.set(json, 8)
  bytes.fill(0x20, 8 + json.length, 8 + headerLength)
  let at = 8 + headerLength
  for (const name of names) {
    for (const value of tensors[name]!.data) {
      view.setFloat32(at, value, true)
      at += 4
    }
  }
  return bytes
}

export interface DecodedSafetensors {
  readonly metadata: Readonly<Record<string, string>>
  readonly tensors: Readonly<Record<string, F32Tensor>>
}

/** Reads a file written by {@link encodeSafetensors}; throws on anything malformed or not F32. */
export const decodeSafetensors = (bytes: Uint8Array): DecodedSafetensors => {
  if (bytes.length < 8) throw new Error("too short for a safetensors file")
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const headerLength = Number(view.getBigUint64(0, true))
  if (8 + headerLength > bytes.length) throw new Error("safetensors header runs past the end of the file")
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<
    string,
    unknown
  >
  const dataStart = 8 + headerLength
  const tensors: Record<string, F32Tensor> = {}
  let metadata: Record<string, string> = {}
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>
      continue
    }
    const { dtype, shape, data_offsets } = entry as {
      dtype: string
      shape: Array<number>
      data_offsets: [number, number]
    }
    if (dtype !== "F32") throw new Error(`tensor ${name} is ${dtype}, expected F32`)
    const [begin, end] = data_offsets
    if (end - begin !== elementCount(shape) * 4 || dataStart + end > bytes.length) {
      throw new Error(`tensor ${name} has inconsistent offsets`)
    }
    const data = new Float32Array(elementCount(shape))
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(dataStart + begin + i * 4, true)
    tensors[name] = { shape, data }
  }
  return { metadata, tensors }
}
