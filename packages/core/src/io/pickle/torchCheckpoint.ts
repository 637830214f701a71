import { Effect } from "effect"
import { sizeOf, stridesOf } from "../../tensor/shape.js"
import type { ByteSource } from "../byteSource.js"
import { CheckpointFormatError, type FileAccessError, PickleRefused } from "../errors.js"
import { type StoredTensor, storageByteSize, type TensorInfo } from "../storedTensor.js"
import type { TensorFile } from "../tensorFile.js"
import { decodeLatin1 } from "../text.js"
import { interpretPickle } from "./interpreter.js"
import { PickleDamage, PickleRefusal } from "./problems.js"
import { storageDTypeOf } from "./torchGlobals.js"
import { type PickleValue, PyDict, PyTuple, StorageRef, TensorRef } from "./values.js"
import { openZip, type ZipArchive, type ZipEntry } from "./zip.js"

/** The dict of tensors inside a checkpoint: `state_dict` when the top level wraps one (Lightning), else the top level. */
const stateDictOf = (root: PickleValue): PyDict => {
  if (!(root instanceof PyDict)) {
    throw new PickleDamage(
      `the checkpoint holds a ${root === null ? "None" : typeof root === "object" ? root.constructor.name : typeof root}, not a dict of tensors`,
    )
  }
  const inner = root.entries.get("state_dict")
  return inner instanceof PyDict ? inner : root
}

/** Tensors of a (possibly nested) state dict, nested keys joined with ".". Non-tensor values are skipped. */
const collectTensors = (
  dict: PyDict,
  prefix: string,
  out: Map<string, TensorRef>,
  visiting = new Set<PyDict>(),
): void => {
  // a pickle can make a dict contain itself through the memo
  if (visiting.has(dict)) throw new PickleDamage(`the state dict refers to itself at "${prefix}"`)
  visiting.add(dict)
  for (const [key, value] of dict.entries) {
    if (typeof key !== "string" && typeof key !== "number") continue
    const name = `${prefix}${key}`
    if (value instanceof TensorRef) {
      if (out.has(name)) throw new PickleDamage(`tensor name "${name}" appears twice`)
      out.set(name, value)
    } else if (value instanceof PyDict) {
      collectTensors(value, `${name}.`, out, visiting)
    }
  }
  visiting.delete(dict)
}

/** Copies a strided view out of its storage bytes (which start at the view's offset) into a contiguous buffer. */
const gather = (storage: Uint8Array, tensor: TensorRef, elementSize: number): Uint8Array => {
  const { shape, strides } = tensor
  const out = new Uint8Array(sizeOf(shape) * elementSize)
  const last = shape.length - 1
  // rows along the innermost axis are copied whole when that axis is dense
  const rowLength = strides[last] === 1 ? shape[last]! : 1
  const outer = rowLength === 1 ? shape.length : last
  const rowBytes = rowLength * elementSize
  const rows = out.length / rowBytes
  const index = new Array<number>(outer).fill(0)
  let source = 0
  for (let row = 0; row < rows; row++) {
    out.set(storage.subarray(source * elementSize, source * elementSize + rowBytes), row * rowBytes)
    for (let axis = outer - 1; axis >= 0; axis--) {
      index[axis]!++
      source += strides[axis]!
      if (index[axis]! < shape[axis]!) break
      source -= strides[axis]! * shape[axis]!
      index[axis] = 0
    }
  }
  return out
}

const isContiguous = (tensor: TensorRef): boolean => {
  const expected = stridesOf(tensor.shape)
  return tensor.shape.every((dim, axis) => dim <= 1 || tensor.strides[axis] === expected[axis])
}

/**
 * Opens a `torch.save` zip checkpoint (`.ckpt`, `.pt`, `.bin`): reads the pickle through the restricted
 * interpreter, then serves each tensor by reading only its bytes from the storage member, honouring storage
 * offsets and strides.
 */
export const openTorchZip = (
  source: ByteSource,
): Effect.Effect<TensorFile, CheckpointFormatError | PickleRefused | FileAccessError> =>
  Effect.gen(function* () {
    const bad = (detail: string) => new CheckpointFormatError({ file: source.name, detail })
    const zip = yield* openZip(source)
    const pickles = [...zip.entries.keys()].filter(
      (name) => name === "data.pkl" || name.endsWith("/data.pkl"),
    )
    if (pickles.length !== 1) {
      return yield* bad(
        pickles.length === 0
          ? "this zip has no data.pkl, so it was not written by torch.save"
          : `this zip holds ${pickles.length} data.pkl members; expected one`,
      )
    }
    const root = pickles[0]!.slice(0, -"data.pkl".length)
    const byteorder = zip.entries.get(`${root}byteorder`)
    if (byteorder !== undefined) {
      const order = decodeLatin1(yield* zip.readEntry(byteorder)).trim()
      if (order !== "little")
        return yield* bad(`tensors are stored ${order}-endian; only little-endian checkpoints are supported`)
    }
    const storages = new Map<string, { readonly ref: StorageRef; readonly entry: ZipEntry }>()
    const persistentLoad = (pid: PickleValue): PickleValue => {
      if (!(pid instanceof PyTuple) || pid.items[0] !== "storage")
        throw new PickleRefusal("a persistent id that is not a torch storage")
      const [, type, key, , count] = pid.items
      const dtype = storageDTypeOf(type ?? null)
      if (dtype === undefined) throw new PickleRefusal("a persistent id with an unknown storage class")
      if (typeof key !== "string" || typeof count !== "number")
        throw new PickleDamage("a storage id is malformed")
      const known = storages.get(key)
      if (known !== undefined) {
        if (known.ref.dtype !== dtype)
          throw new PickleDamage(`storage ${key} is used as both ${known.ref.dtype} and ${dtype}`)
        return known.ref
      }
      const entry = zip.entries.get(`${root}data/${key}`)
      if (entry === undefined)
        throw new PickleDamage(
          `storage ${key} has no data member (${root}data/${key}); the file is incomplete`,
        )
      if (entry.size < count * storageByteSize[dtype]) {
        throw new PickleDamage(
          `storage ${key} should hold ${count} ${dtype} elements but its member has ${entry.size} bytes`,
        )
      }
      const ref = new StorageRef(dtype, key, count)
      storages.set(key, { ref, entry })
      return ref
    }
    const pickle = yield* zip.readEntry(zip.entries.get(pickles[0]!)!)
    const tensors = yield* Effect.try({
      try: () => {
        const out = new Map<string, TensorRef>()
        collectTensors(stateDictOf(interpretPickle(pickle, persistentLoad)), "", out)
        return out
      },
      catch: (cause) =>
        cause instanceof PickleRefusal
          ? new PickleRefused({ file: source.name, found: cause.found })
          : bad(cause instanceof PickleDamage ? cause.message : `unreadable pickle: ${String(cause)}`),
    })
    return torchTensorFile(source.name, zip, tensors, storages)
  })

const torchTensorFile = (
  name: string,
  zip: ZipArchive,
  tensors: ReadonlyMap<string, TensorRef>,
  storages: ReadonlyMap<string, { readonly entry: ZipEntry }>,
): TensorFile => {
  let inflated: { readonly key: string; readonly bytes: Uint8Array } | undefined
  const storageBytes = (
    ref: StorageRef,
    entry: ZipEntry,
    first: number,
    count: number,
    elementSize: number,
  ) =>
    Effect.gen(function* () {
      if (entry.method === 0)
        return yield* zip.readStoredRange(entry, first * elementSize, count * elementSize)
      if (inflated?.key !== ref.key) inflated = { key: ref.key, bytes: yield* zip.readEntry(entry) }
      return inflated.bytes.slice(first * elementSize, (first + count) * elementSize)
    })
  const read = (tensorName: string): Effect.Effect<StoredTensor, CheckpointFormatError | FileAccessError> =>
    Effect.gen(function* () {
      const tensor = tensors.get(tensorName)
      if (tensor === undefined)
        return yield* new CheckpointFormatError({ file: name, detail: `has no tensor named "${tensorName}"` })
      const { storage, shape } = tensor
      const elementSize = storageByteSize[storage.dtype]
      const count = sizeOf(shape)
      const entry = storages.get(storage.key)!.entry
      if (count === 0) return { dtype: storage.dtype, shape, bytes: new Uint8Array(0) }
      if (isContiguous(tensor)) {
        const bytes = yield* storageBytes(storage, entry, tensor.offset, count, elementSize)
        return { dtype: storage.dtype, shape, bytes }
      }
      const span = 1 + shape.reduce((sum, dim, axis) => sum + (dim - 1) * tensor.strides[axis]!, 0)
      const window = yield* storageBytes(storage, entry, tensor.offset, span, elementSize)
      return { dtype: storage.dtype, shape, bytes: gather(window, tensor, elementSize) }
    })
  const infos: Array<TensorInfo> = [...tensors].map(([tensorName, ref]) => ({
    name: tensorName,
    dtype: ref.storage.dtype,
    shape: ref.shape,
  }))
  return { name, format: "pytorch-zip", metadata: {}, tensors: infos, read }
}
