import type { CompositeAttrs, CompositeOp } from "./composites.js"
import { compositeOps } from "./composites.js"
import type { PrimitiveAttrs, PrimitiveOp } from "./primitives.js"

export type OpAttrs = PrimitiveAttrs & CompositeAttrs
export type OpName = PrimitiveOp | CompositeOp

const composites: ReadonlySet<string> = new Set(compositeOps)

export const isComposite = (op: OpName): op is CompositeOp => composites.has(op)
