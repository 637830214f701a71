/**
 * WebGPU's usage and map-mode bits. They are fixed by the spec; spelled out here so the package never
 * needs the `GPUBufferUsage` globals that dawn.node only provides after `Object.assign(globalThis, …)`.
 */
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  STORAGE: 0x0080,
} as const

export const MapMode = { READ: 0x0001 } as const

/** Usage of every tensor buffer: kernels read and write it, copies go both ways. */
export const tensorUsage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST

/** Usage of the staging buffers results are read back through. */
export const readbackUsage = BufferUsage.MAP_READ | BufferUsage.COPY_DST
