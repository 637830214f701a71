import { sizeOf } from "@danlu/core"
import { collapseDims } from "../dims.js"
import { inputOperand, type Launcher, outputOperand } from "../launch.js"
import { broadcastStrides } from "../strided/stridedMap.js"
import { f32Bits } from "../wgsl.js"
import { attentionRowsPerWorkgroup, attentionSource } from "./attention.wgsl.js"

/** Workgroup memory the key/value tiles may take: WebGPU's guaranteed minimum. */
const tileBytes = 16384

/** Fused attention softmax(q·kᵀ·scale + mask)·v with online softmax; k, v and the mask broadcast over batch. */
export const attention: Launcher<"attention"> = (node, ctx) => {
  const [q, k, v, mask] = node.inputs as [typeof node, typeof node, typeof node, typeof node | undefined]
  const [lq, head] = q.shape.slice(-2) as [number, number]
  const lk = k.shape[k.rank - 2]!
  const valueHead = v.shape[v.rank - 1]!
  const batch = q.shape.slice(0, -2)
  const batches = sizeOf(batch)
  if (batches * lq * valueHead === 0) return []
  const limit = ctx.limits.maxComputeWorkgroupsPerDimension
  if (batches > limit) {
    throw new Error(
      `${batches} attention batches exceed this device's maxComputeWorkgroupsPerDimension of ${limit}`,
    )
  }
  const scoreShape = [...batch, lq, lk]
  const maskStrides = mask ? broadcastStrides(mask.shape, scoreShape) : scoreShape.map(() => 0)
  const { dims, strides } = collapseDims(batch, [
    broadcastStrides(k.shape.slice(0, -2), batch).map((s) => s * lk * head),
    broadcastStrides(v.shape.slice(0, -2), batch).map((s) => s * lk * valueHead),
    maskStrides.slice(0, -2),
  ])
  const keysPerTile = Math.max(1, Math.min(32, Math.floor(tileBytes / (4 * (head + valueHead)))))
  const source = attentionSource({
    dtype: node.dtype,
    head,
    valueHead,
    keysPerTile,
    batchRank: dims.length,
    masked: mask !== undefined,
  })
  return [
    {
      kind: "compute",
      pipeline: ctx.pipeline(source),
      operands: [
        outputOperand,
        inputOperand(0),
        inputOperand(1),
        inputOperand(2),
        ...(mask ? [inputOperand(3)] : []),
      ],
      params: Uint32Array.from([
        lq,
        lk,
        f32Bits(node.attrs.scale),
        maskStrides[maskStrides.length - 2]!,
        maskStrides[maskStrides.length - 1]!,
        ...dims,
        ...strides[0]!,
        ...strides[1]!,
        ...strides[2]!,
      ]),
      workgroups: [Math.ceil(lq / attentionRowsPerWorkgroup), batches, 1],
    },
  ]
}
