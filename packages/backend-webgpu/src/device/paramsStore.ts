import { tensorUsage } from "./usage.js"

/** A dispatch's params words: a range of a shared buffer, bound with its offset. */
export interface ParamsBlock {
  readonly buffer: GPUBuffer
  readonly offset: number
  readonly size: number
}

/**
 * The params blocks of every dispatch on one device, shared by content (programs of one model repeat the
 * same sizes and strides many times, across bucket shapes too) and packed into slabs at the device's
 * binding offset alignment. A training program has thousands of dispatches; one buffer each made Dawn on
 * lavapipe keep one memory mapping per buffer, and the process hit the kernel's limit (65 530 mappings)
 * at about the fifth program.
 */
export interface ParamsStore {
  acquire(words: Uint32Array): ParamsBlock
  /** Lets go of a block; a slab whose blocks are all let go is freed. */
  release(block: ParamsBlock): void
  /** Unmaps the slab being filled: its blocks are about to be used by the queue. */
  seal(): void
  /** Bytes of the slabs held now. */
  heldBytes(): number
}

const slabBytes = 64 * 1024

interface Slab {
  readonly buffer: GPUBuffer
  /** Mapped while blocks are written into it; undefined once sealed. */
  words: Uint32Array | undefined
  used: number
  live: number
}

interface Entry {
  readonly key: string
  readonly block: ParamsBlock
  readonly slab: Slab
  users: number
}

const stores = new WeakMap<GPUDevice, ParamsStore>()

/** `onFree` hears of every slab before it is destroyed (the bind groups that bind it go too). */
export const paramsStoreOf = (
  device: GPUDevice,
  onFree: (buffer: GPUBuffer) => void = () => {},
): ParamsStore => {
  const known = stores.get(device)
  if (known) return known
  const alignment = device.limits.minStorageBufferOffsetAlignment
  const byContent = new Map<string, Entry>()
  const byBlock = new Map<ParamsBlock, Entry>()
  const slabs = new Map<GPUBuffer, Slab>()
  let open: Slab | undefined

  const seal = () => {
    if (open === undefined) return
    open.buffer.unmap()
    open.words = undefined
    if (open.live === 0) free(open)
    open = undefined
  }
  const free = (slab: Slab) => {
    slabs.delete(slab.buffer)
    onFree(slab.buffer)
    slab.buffer.destroy()
  }
  const slabFor = (bytes: number): Slab => {
    if (open !== undefined && open.used + bytes <= open.buffer.size) return open
    seal()
    const size = Math.max(slabBytes, bytes)
    const buffer = device.createBuffer({ size, usage: tensorUsage, mappedAtCreation: true, label: "params" })
    open = { buffer, words: new Uint32Array(buffer.getMappedRange()), used: 0, live: 0 }
    slabs.set(buffer, open)
    return open
  }

  const store: ParamsStore = {
    acquire: (words) => {
      const key = words.join(",")
      const known = byContent.get(key)
      if (known !== undefined) {
        known.users++
        return known.block
      }
      const size = Math.max(4, words.byteLength)
      const slab = slabFor(Math.ceil(size / alignment) * alignment)
      const block = { buffer: slab.buffer, offset: slab.used, size }
      slab.words!.set(words, slab.used / 4)
      slab.used += Math.ceil(size / alignment) * alignment
      slab.live++
      const entry = { key, block, slab, users: 1 }
      byContent.set(key, entry)
      byBlock.set(block, entry)
      return block
    },
    release: (block) => {
      const entry = byBlock.get(block)
      if (entry === undefined || --entry.users > 0) return
      byContent.delete(entry.key)
      byBlock.delete(block)
      if (--entry.slab.live === 0 && entry.slab !== open) free(entry.slab)
    },
    seal,
    heldBytes: () => [...slabs.keys()].reduce((sum, buffer) => sum + buffer.size, 0),
  }
  stores.set(device, store)
  return store
}
