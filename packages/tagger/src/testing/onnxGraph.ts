import onnxProto from "onnx-proto"

const { onnx } = onnxProto

/** Minimal helpers to write ONNX models by hand (opset 17), for tests and benchmarks. */
export const opset = 17

export const floatInitializer = (name: string, dims: ReadonlyArray<number>, values: Float32Array) =>
  onnx.TensorProto.create({
    name,
    dims: [...dims],
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  })

export const int64Initializer = (name: string, values: ReadonlyArray<number>) =>
  onnx.TensorProto.create({
    name,
    dims: [values.length],
    dataType: onnx.TensorProto.DataType.INT64,
    int64Data: [...values],
  })

export const intsAttribute = (name: string, ints: ReadonlyArray<number>) =>
  onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...ints] })

export const intAttribute = (name: string, i: number) =>
  onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i })

export const node = (
  opType: string,
  inputs: ReadonlyArray<string>,
  outputs: ReadonlyArray<string>,
  attribute: ReadonlyArray<ReturnType<typeof intsAttribute>> = [],
) => onnx.NodeProto.create({ opType, input: [...inputs], output: [...outputs], attribute: [...attribute] })

/** A float32 value declaration; string dims are symbolic (dynamic), such as the batch. */
export const floatValue = (name: string, dims: ReadonlyArray<number | string>) =>
  onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((dim) => (typeof dim === "number" ? { dimValue: dim } : { dimParam: dim })) },
      },
    },
  })

export const encodeModel = (graph: {
  readonly nodes: ReadonlyArray<ReturnType<typeof node>>
  readonly initializers: ReadonlyArray<ReturnType<typeof floatInitializer>>
  readonly input: ReturnType<typeof floatValue>
  readonly output: ReturnType<typeof floatValue>
}): Uint8Array =>
  onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      producerName: "danlu-tagger-testing",
      opsetImport: [{ domain: "", version: opset }],
      graph: {
        name: "wd14",
        node: [...graph.nodes],
        initializer: [...graph.initializers],
        input: [graph.input],
        output: [graph.output],
      },
    }),
  ).finish()

/** Deterministic numbers in [-1, 1) from a seed (mulberry32), so models are the same on every run. */
export const seededValues = (count: number, seed: number, scale = 1): Float32Array => {
  const values = new Float32Array(count)
  let state = seed >>> 0
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    values[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale
  }
  return values
}
