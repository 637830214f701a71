import type { StorageDType } from "../storedTensor.js"
import { PickleDamage, PickleRefusal } from "./problems.js"
import { InertObject, type PickleValue, PyDict, PyGlobal, PyTuple, StorageRef, TensorRef } from "./values.js"

/** torch storage classes (as persistent ids name them) and their element types. */
const storageClasses: Readonly<Record<string, StorageDType>> = {
  DoubleStorage: "F64",
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
}

const tensorRebuilders = new Set([
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
])

/**
 * Classes that Lightning-era SD checkpoints pickle beside the state dict (the ModelCheckpoint callback state,
 * numpy scalars inside it). They are kept as inert markers so those files open; they never reach a tensor.
 */
const inertClasses = new Set([
  "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
  "numpy.core.multiarray.scalar",
  "numpy.core.multiarray._reconstruct",
  "numpy.dtype",
  "numpy.ndarray",
  "_codecs.encode",
  "__builtin__.set",
  "builtins.set",
])

/** Resolves a GLOBAL opcode; anything not listed here refuses the file. */
export const resolveGlobal = (module: string, name: string): PyGlobal => {
  const qualified = `${module}.${name}`
  const known =
    qualified === "collections.OrderedDict" ||
    tensorRebuilders.has(qualified) ||
    (module === "torch" && name in storageClasses) ||
    inertClasses.has(qualified)
  if (!known) throw new PickleRefusal(`the global ${qualified}`)
  return new PyGlobal(module, name)
}

/** The element type of a storage class global, or undefined if it is not one. */
export const storageDTypeOf = (value: PickleValue): StorageDType | undefined =>
  value instanceof PyGlobal && value.module === "torch" ? storageClasses[value.name] : undefined

const intList = (value: PickleValue, what: string): Array<number> => {
  const items = value instanceof PyTuple ? value.items : Array.isArray(value) ? value : undefined
  if (
    items === undefined ||
    !items.every((item) => typeof item === "number" && Number.isSafeInteger(item) && item >= 0)
  ) {
    throw new PickleDamage(`tensor ${what} is not a tuple of non-negative integers`)
  }
  return items as Array<number>
}

const rebuildTensor = (args: ReadonlyArray<PickleValue>): TensorRef => {
  const [storage, offset, size, stride] = args
  if (!(storage instanceof StorageRef))
    throw new PickleDamage("a tensor is rebuilt from something that is not a storage")
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
    throw new PickleDamage("tensor storage offset is not a non-negative integer")
  }
  const shape = intList(size ?? null, "size")
  const strides = intList(stride ?? null, "stride")
  if (shape.length !== strides.length)
    throw new PickleDamage(`tensor has ${shape.length} sizes but ${strides.length} strides`)
  if (!shape.includes(0)) {
    const last = offset + shape.reduce((sum, dim, axis) => sum + (dim - 1) * strides[axis]!, 0)
    if (last >= storage.elementCount) {
      throw new PickleDamage(
        `tensor [${shape.join(",")}] at offset ${offset} with strides [${strides.join(",")}] reaches element ${last} of a storage of ${storage.elementCount}`,
      )
    }
  }
  return new TensorRef(storage, offset, shape, strides)
}

/** REDUCE: `callable(*args)` for the few callables a state dict needs; nothing is ever executed. */
export const applyGlobal = (callable: PickleValue, args: PickleValue): PickleValue => {
  if (!(callable instanceof PyGlobal)) throw new PickleRefusal(`REDUCE on a ${describe(callable)}`)
  if (!(args instanceof PyTuple))
    throw new PickleDamage(`REDUCE arguments for ${callable.qualifiedName} are not a tuple`)
  const name = callable.qualifiedName
  if (name === "collections.OrderedDict") {
    if (args.items.length !== 0) throw new PickleRefusal("collections.OrderedDict called with arguments")
    return new PyDict()
  }
  if (name === "torch._utils._rebuild_parameter" || name === "torch._utils._rebuild_parameter_with_state") {
    const data = args.items[0]
    if (!(data instanceof TensorRef)) throw new PickleDamage(`${name} wraps something that is not a tensor`)
    return data
  }
  if (tensorRebuilders.has(name)) return rebuildTensor(args.items)
  if (inertClasses.has(name)) return new InertObject(name)
  throw new PickleRefusal(`a call to ${name}`)
}

/** NEWOBJ: only the inert metadata classes may be instantiated (as markers). */
export const instantiate = (cls: PickleValue): PickleValue => {
  if (cls instanceof PyGlobal && inertClasses.has(cls.qualifiedName))
    return new InertObject(cls.qualifiedName)
  throw new PickleRefusal(`NEWOBJ of ${cls instanceof PyGlobal ? cls.qualifiedName : `a ${describe(cls)}`}`)
}

/** BUILD: state on a dict (OrderedDict `_metadata`) or on an inert marker is dropped; anything else refuses. */
export const buildState = (target: PickleValue): void => {
  if (target instanceof PyDict || target instanceof InertObject) return
  throw new PickleRefusal(`BUILD on a ${describe(target)}`)
}

export const describe = (value: PickleValue): string => {
  if (value === null) return "None"
  if (Array.isArray(value)) return "list"
  if (value instanceof Uint8Array) return "bytes"
  if (value instanceof PyGlobal) return value.qualifiedName
  if (typeof value === "object") return value.constructor.name
  return typeof value
}
