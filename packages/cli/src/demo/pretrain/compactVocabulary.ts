import { conditioningInputNames, type HostTensor, hostTensor, type SdArchitecture } from "@danlu/core"

/**
 * The token table trained on only the tokens the captions use. CLIP's table has 49408 rows and the gradient
 * of a lookup is a one-hot product over all of them, far dearer than the rest of a step; the captions of the
 * procedural set use under a hundred. Training runs on a table of those rows (token ids renumbered), and the
 * trained rows go back into the full table; every other row stays as seeded.
 */
export interface CompactVocabulary {
  /** The architecture with the text encoder's vocabulary cut to the used tokens. */
  readonly architecture: SdArchitecture
  /** The used rows of a full table, in compact order. */
  readonly compact: (full: HostTensor) => HostTensor
  /** The full table with the trained compact rows written back. */
  readonly expand: (full: HostTensor, compact: HostTensor) => HostTensor
  /** Conditioning values with their token ids renumbered to the compact table. */
  readonly renumber: (values: Record<string, HostTensor>) => Record<string, HostTensor>
}

export const compactVocabulary = (
  architecture: SdArchitecture,
  tokenValues: ReadonlyArray<Record<string, HostTensor>>,
): CompactVocabulary => {
  const name = conditioningInputNames.tokens(0)
  const ids = [...new Set(tokenValues.flatMap((values) => [...(values[name]!.data as Int32Array)]))].sort(
    (a, b) => a - b,
  )
  const index = new Map(ids.map((id, i) => [id, i]))
  const text = architecture.text[0]!
  const width = text.width
  return {
    architecture: { ...architecture, text: [{ ...text, vocabSize: ids.length }] },
    compact: (full) => {
      const data = full.data as Float32Array
      const out = new Float32Array(ids.length * width)
      ids.forEach((id, i) => {
        out.set(data.subarray(id * width, (id + 1) * width), i * width)
      })
      return hostTensor("f32", [ids.length, width], out)
    },
    expand: (full, compact) => {
      const out = Float32Array.from(full.data as Float32Array)
      const rows = compact.data as Float32Array
      ids.forEach((id, i) => {
        out.set(rows.subarray(i * width, (i + 1) * width), id * width)
      })
      return hostTensor("f32", full.shape, out)
    },
    renumber: (values) => {
      const tokens = values[name]!
      return {
        ...values,
        [name]: hostTensor(
          "i32",
          tokens.shape,
          Int32Array.from(tokens.data as Int32Array, (id) => index.get(id)!),
        ),
      }
    },
  }
}
