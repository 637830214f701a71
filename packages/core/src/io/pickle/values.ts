import type { StorageDType } from "../storedTensor.js"

/** A Python tuple. */
export class PyTuple {
  constructor(readonly items: ReadonlyArray<PickleValue>) {}
}

/** A Python dict or OrderedDict, in insertion order. Keys that are objects compare by identity. */
export class PyDict {
  readonly entries = new Map<PickleValue, PickleValue>()
}

/** A reference to one of the few globals the reader accepts; it is a marker, never something callable. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`
  }
}

/** A torch storage named by a persistent id: its data is the zip member `data/<key>`. */
export class StorageRef {
  constructor(
    readonly dtype: StorageDType,
    readonly key: string,
    readonly elementCount: number,
  ) {}
}

/** A tensor view into a storage, as `torch._utils._rebuild_tensor_v2` describes it (offset and strides in elements). */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: ReadonlyArray<number>,
    readonly strides: ReadonlyArray<number>,
  ) {}
}

/**
 * A training-metadata object (a Lightning callback state, a numpy scalar) that some checkpoints carry beside
 * the state dict. It is recorded by class name only; nothing is constructed.
 */
export class InertObject {
  constructor(readonly className: string) {}
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Array<PickleValue>
  | PyTuple
  | PyDict
  | PyGlobal
  | StorageRef
  | TensorRef
  | InertObject
