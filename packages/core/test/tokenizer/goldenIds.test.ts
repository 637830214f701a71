import { beforeAll, describe, expect, it } from "vitest"
import { type ClipTokenizer, loadClipTokenizer } from "../../src/text/index.js"
import golden from "./golden-ids.json" with { type: "json" }

// Made once by make-golden-ids.mjs with Hugging Face's Rust tokenizers library (see that file).
describe(`agreement with ${golden.source}`, () => {
  let tokenizer: ClipTokenizer
  beforeAll(async () => {
    tokenizer = await loadClipTokenizer()
  })

  it.each(golden.cases)("gives the reference ids for $text", ({ text, ids }) => {
    expect(tokenizer.encode(text)).toEqual(ids)
  })
})
