import type { ComputeCommand } from "../kernels/launch.js"
import type { ParamsBlock } from "./paramsStore.js"

/**
 * Bind groups shared by every program of one device, keyed by pipeline, buffers and params block.
 * Programs of one model at different bucket shapes run on the same pooled activation buffers and the
 * same states, so they share most of their bind groups; within one program, equal dispatches share one.
 * On lavapipe every bind group holds a memory mapping, so this is also what lets several training
 * programs live on one device there (see `paramsStore.ts`).
 */
export interface BindGroups {
  /** The bind group with `buffers` at bindings 0…n-1 and the params block at n. */
  of(command: ComputeCommand, buffers: ReadonlyArray<GPUBuffer>, params: ParamsBlock): GPUBindGroup
  /** Drops the bind groups that bind `buffer`, which is being destroyed. */
  forget(buffer: GPUBuffer): void
  /** How many bind groups are kept. */
  size(): number
}

const caches = new WeakMap<GPUDevice, BindGroups>()

export const bindGroupsOf = (device: GPUDevice): BindGroups => {
  const known = caches.get(device)
  if (known) return known
  const ids = new WeakMap<object, number>()
  let next = 0
  const idOf = (o: object): number => {
    let id = ids.get(o)
    if (id === undefined) {
      id = next++
      ids.set(o, id)
    }
    return id
  }
  const groups = new Map<string, GPUBindGroup>()
  const keysOf = new Map<GPUBuffer, Set<string>>()

  const cache: BindGroups = {
    of: (command, buffers, params) => {
      const key = `${idOf(command.pipeline)}:${buffers.map(idOf).join(",")}:${idOf(params.buffer)}+${params.offset}`
      const known = groups.get(key)
      if (known !== undefined) return known
      const group = device.createBindGroup({
        layout: command.pipeline.getBindGroupLayout(0),
        entries: [
          ...buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
          {
            binding: buffers.length,
            resource: { buffer: params.buffer, offset: params.offset, size: params.size },
          },
        ],
      })
      groups.set(key, group)
      for (const buffer of [...buffers, params.buffer]) {
        const keys = keysOf.get(buffer) ?? new Set()
        keys.add(key)
        keysOf.set(buffer, keys)
      }
      return group
    },
    forget: (buffer) => {
      for (const key of keysOf.get(buffer) ?? []) groups.delete(key)
      keysOf.delete(buffer)
    },
    size: () => groups.size,
  }
  caches.set(device, cache)
  return cache
}
