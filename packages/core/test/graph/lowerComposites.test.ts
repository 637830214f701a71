import { describe, expect, it } from "vitest"
import {
  compositeOps,
  lowerComposites,
  Reference,
  T,
  type Tensor,
  topologicalOrder,
} from "../../src/index.js"

const everyNode = (roots: ReadonlyArray<Tensor>) => topologicalOrder(roots)
const isComposite = (op: string) => (compositeOps as ReadonlyArray<string>).includes(op)

describe("lowerComposites", () => {
  const x = T.input("x", [2, 6])
  const shared = T.softmax(T.geglu(x))
  const graph = {
    outputs: { scaled: T.mul(shared, 2), shifted: T.add(shared, T.input("b", [3])) },
    updates: { x: T.sub(T.reshape(shared, [6]), T.input("c", [6])) },
  }
  const feeds = {
    x: Float64Array.from({ length: 12 }, (_, i) => Math.sin(i) * 2),
    b: Float64Array.of(0.5, -1, 2),
    c: Float64Array.from({ length: 6 }, (_, i) => i / 7),
  }
  const roots = (g: typeof graph) => [g.outputs.scaled, g.outputs.shifted, g.updates.x]

  it("decomposes every composite, nested ones too, into the same values", () => {
    const lowered = lowerComposites(graph) as typeof graph
    const ops = everyNode(roots(lowered)).map((t) => t.op)
    expect(ops.filter(isComposite)).toEqual([])
    expect(Reference.evaluateExact(roots(lowered), feeds)).toEqual(
      Reference.evaluateExact(roots(graph), feeds),
    )
  })

  it("rewrites a node shared by several roots once", () => {
    const lowered = lowerComposites(graph) as typeof graph
    const [scaled, shifted, update] = roots(lowered)
    const softmaxOf = (t: Tensor) => t.inputs[0]!
    expect(softmaxOf(scaled!)).toBe(softmaxOf(shifted!))
    expect(softmaxOf(update!).inputs[0]).toBe(softmaxOf(scaled!))
    const before = everyNode(roots(graph)).length
    const once = everyNode(roots(lowered)).length
    const alone = everyNode([(lowerComposites({ outputs: { s: shared } }).outputs as { s: Tensor }).s]).length
    // The shared part's decomposition once, plus the nodes outside it as they were.
    expect(once).toBe(alone + (before - everyNode([shared]).length))
  })

  it("keeps the composites it is told to, and what does not change stays the same node", () => {
    const lowered = lowerComposites(graph, new Set(["softmax", "geglu"])) as typeof graph
    expect(lowered.outputs.scaled).toBe(graph.outputs.scaled)
    const kept = lowerComposites(graph, new Set(["softmax"])) as typeof graph
    const ops = everyNode(roots(kept)).map((t) => t.op)
    expect(ops.filter(isComposite)).toEqual(["softmax"])
    expect(Reference.evaluateExact(roots(kept), feeds)).toEqual(Reference.evaluateExact(roots(graph), feeds))
  })
})
