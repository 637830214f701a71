import { drawKey, FREE_DRAWS, type LoraForwardHook, NOISE_KEY, T, type Tensor } from "@danlu/core"

/** kohya's three LoRA dropouts (`network_dropout`, and `rank_dropout` / `module_dropout` of `network_args`). */
export interface LoraDropoutOptions {
  /** Probability of zeroing each element of the down projection's output (torch's `F.dropout`). */
  readonly network?: number | undefined
  /** Probability of zeroing each rank of the down projection's output, per sample. */
  readonly rank?: number | undefined
  /** Probability of leaving a whole module out for the step. */
  readonly module?: number | undefined
}

/** Each module's hidden shape and kind, by module index: what places its draws in the step's one draw. */
export type DropoutLayout = ReadonlyMap<
  number,
  { readonly shape: ReadonlyArray<number>; readonly conv: boolean }
>

/**
 * The dropouts of one model build. A graph is built twice: first with `record` (the hidden shapes are
 * noted, nothing changes), then with `hook(layout)`, whose every mask is a slice of one uniform draw
 * of the whole step — one random number generator in the program instead of one per module.
 */
export interface LoraDropout {
  readonly record: () => { readonly hook: LoraForwardHook; readonly layout: () => DropoutLayout }
  readonly hook: (layout: DropoutLayout) => LoraForwardHook
}

const active = (rate: number | undefined): rate is number => rate !== undefined && rate > 0

/** What the kept values are scaled by; at rate 1 nothing is kept (torch's `F.dropout` then gives zeros). */
const rescale = (rate: number) => (rate < 1 ? 1 / (1 - rate) : 0)

const count = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

/**
 * The dropouts of kohya's `LoRAModule.forward` for training graphs: module dropout skips the module when
 * its draw falls below the rate; network dropout zeroes elements of the down projection's output and
 * scales the rest by 1/(1−p); rank dropout zeroes ranks per sample (the first axis) and scales the
 * module's delta by 1/(1−p). The draws come from the step's `noise_key` at index `FREE_DRAWS`, laid out
 * module after module (gate, rank mask, element mask), so each step draws afresh, a recomputed
 * (checkpointed) module draws the same, and every backend draws the same. Undefined when no rate is set.
 */
export const loraDropout = (options: LoraDropoutOptions): LoraDropout | undefined => {
  const { network, rank, module } = options
  if (!active(network) && !active(rank) && !active(module)) return undefined
  const isConv = (kind: string) => kind !== "linear"
  const ranksOf = (shape: ReadonlyArray<number>, conv: boolean) => shape[conv ? 1 : shape.length - 1]!
  const sizes = (shape: ReadonlyArray<number>, conv: boolean) => ({
    gate: active(module) ? 1 : 0,
    rank: active(rank) ? shape[0]! * ranksOf(shape, conv) : 0,
    element: active(network) ? count(shape) : 0,
  })
  return {
    record: () => {
      const layout = new Map<number, { shape: ReadonlyArray<number>; conv: boolean }>()
      return {
        hook: (hidden, lora, index) => {
          layout.set(index, { shape: hidden.shape, conv: isConv(lora.module.kind) })
          return { hidden }
        },
        layout: () => new Map(layout),
      }
    },
    hook: (layout) => {
      const offsets = new Map<number, number>()
      let total = 0
      for (const index of [...layout.keys()].sort((a, b) => a - b)) {
        offsets.set(index, total)
        const { shape, conv } = layout.get(index)!
        const s = sizes(shape, conv)
        total += s.gate + s.rank + s.element
      }
      const draws = T.random(
        drawKey(T.input(NOISE_KEY, [4], "u32"), FREE_DRAWS),
        [Math.max(1, total)],
        "uniform",
      )
      const kept = (start: number, shape: ReadonlyArray<number>, rate: number, dtype: Tensor["dtype"]) =>
        T.cast(T.greater(T.reshape(T.slice(draws, [start], [start + count(shape)]), shape), rate), dtype)
      return (hidden, lora, index) => {
        const start = offsets.get(index)
        if (start === undefined)
          throw new RangeError(`LoRA module ${lora.name} was not in the dropout layout`)
        const conv = isConv(lora.module.kind)
        const s = sizes(hidden.shape, conv)
        let out = hidden
        let gain: Tensor | number = 1
        if (active(network))
          out = T.mul(
            T.mul(out, kept(start + s.gate + s.rank, out.shape, network, out.dtype)),
            rescale(network),
          )
        if (active(rank)) {
          const rows = out.shape[0]!
          const ranks = ranksOf(out.shape, conv)
          const broadcast = conv
            ? [rows, ranks, ...out.shape.slice(2).map(() => 1)]
            : [rows, ...out.shape.slice(1, -1).map(() => 1), ranks]
          out = T.mul(out, T.reshape(kept(start + s.gate, [rows, ranks], rank, out.dtype), broadcast))
          gain = rescale(rank)
        }
        if (active(module)) {
          const gate = T.reshape(kept(start, [1], module, out.dtype), [])
          gain = gain === 1 ? gate : T.mul(gate, gain)
        }
        return { hidden: out, gain }
      }
    },
  }
}
