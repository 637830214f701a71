import type { TensorInfo } from "../../io/storedTensor.js"
import { type StorageDType, storageByteSize } from "../../io/storedTensor.js"
import { sizeOf } from "../../tensor/shape.js"

/** Elements and bytes of a group of tensors. Buffers that are not weights (`position_ids`) are left out of `parameters`. */
export interface TensorTally {
  readonly tensors: number
  readonly parameters: number
  readonly bytes: number
  /** Tensor count per stored dtype. */
  readonly dtypes: Readonly<Partial<Record<StorageDType, number>>>
}

const isBuffer = (name: string): boolean => name.endsWith("position_ids")

export const tally = (tensors: ReadonlyArray<TensorInfo>): TensorTally => {
  let parameters = 0
  let bytes = 0
  const dtypes: Partial<Record<StorageDType, number>> = {}
  for (const tensor of tensors) {
    const count = sizeOf(tensor.shape)
    if (!isBuffer(tensor.name)) parameters += count
    bytes += count * storageByteSize[tensor.dtype]
    dtypes[tensor.dtype] = (dtypes[tensor.dtype] ?? 0) + 1
  }
  return { tensors: tensors.length, parameters, bytes, dtypes }
}
