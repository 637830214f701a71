/**
 * The text clean-up OpenAI's CLIP tokenizer applies before BPE (`simple_tokenizer.py`):
 * `whitespace_clean(basic_clean(text)).lower()`, where basic_clean = ftfy.fix_text, html.unescape twice,
 * strip.
 *
 * ftfy is a Python library with large tables; `fixTextLite` keeps the fixes that change real prompts
 * (fullwidth punctuation from CJK keyboards, curly quotes, Latin ligatures, C1 and other control
 * characters, terminal escapes, NFC) in ftfy 6's order, and leaves out its mojibake repair
 * (fix_encoding: "cafÃ©" stays as it is) and its own HTML pass. `htmlUnescape` follows Python's
 * html.unescape exactly for numeric references and knows a short list of named ones.
 */

// Python's str.isspace() set, which `\s` means in the reference's regexes (JS `\s` differs on
// U+001C..U+001F, U+0085 and U+FEFF).
const PY_WHITESPACE =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
const WHITESPACE_RUN = new RegExp(`[${PY_WHITESPACE}]+`, "gu")
const LEADING_OR_TRAILING_WHITESPACE = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, "gu")

/** Python's str.strip(). */
export const pyStrip = (text: string): string => text.replace(LEADING_OR_TRAILING_WHITESPACE, "")

/** `re.sub(r'\s+', ' ', text).strip()`. */
export const whitespaceClean = (text: string): string => pyStrip(text.replace(WHITESPACE_RUN, " "))

// Windows-1252 for bytes 0x80..0x9F; the five undefined bytes decode to themselves ("sloppy"
// windows-1252 in ftfy, the same in the HTML5 numeric-reference table).
const WINDOWS_1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d,
  0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
  0x153, 0x9d, 0x17e, 0x178,
]

const LIGATURES: Readonly<Record<string, string>> = {
  "\u0132": "IJ",
  "\u0133": "ij",
  "\u0149": "\u02bcn",
  "\u01f1": "DZ",
  "\u01f2": "Dz",
  "\u01f3": "dz",
  "\u01c4": "D\u017d",
  "\u01c5": "D\u017e",
  "\u01c6": "d\u017e",
  "\u01c7": "LJ",
  "\u01c8": "Lj",
  "\u01c9": "lj",
  "\u01ca": "NJ",
  "\u01cb": "Nj",
  "\u01cc": "nj",
  "\ufb00": "ff",
  "\ufb01": "fi",
  "\ufb02": "fl",
  "\ufb03": "ffi",
  "\ufb04": "ffl",
  "\ufb05": "\u017ft",
  "\ufb06": "st",
}

const C1_CONTROL = /[\x80-\x9f]/g
const LIGATURE = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g
// ftfy's WIDTH_MAP: U+3000 becomes a space, and U+FF01..U+FFEF become their NFKC form.
const WIDTH_FORM = /[\u3000\uff01-\uffef]/g
const SINGLE_QUOTE = /[\u02bc\u2018-\u201b]/g
const DOUBLE_QUOTE = /[\u201c-\u201f]/g
const LINE_BREAK = /\r\n|[\r\u2028\u2029\x85]/g
// biome-ignore lint/suspicious/noControlCharactersInRegex: an ANSI terminal escape starts with ESC
const TERMINAL_ESCAPE = /\x1b\[((?:\d|;)*)([a-zA-Z])/g

// ftfy's remove_control_chars set. U+FEFF (byte-order mark) is among them, so it never reaches the
// whitespace rules.
const isStrayControl = (code: number): boolean =>
  code <= 0x08 ||
  code === 0x0b ||
  (code >= 0x0e && code <= 0x1f) ||
  code === 0x7f ||
  (code >= 0x206a && code <= 0x206f) ||
  code === 0xfeff ||
  (code >= 0xfff9 && code <= 0xfffc) ||
  (code >= 0x1d173 && code <= 0x1d17a) ||
  (code >= 0xe0000 && code <= 0xe007f)

const removeControlCharacters = (text: string): string => {
  let out = ""
  for (const c of text) if (!isStrayControl(c.codePointAt(0)!)) out += c
  return out
}

const fixOnce = (text: string): string =>
  removeControlCharacters(
    text
      .replace(C1_CONTROL, (c) => String.fromCharCode(WINDOWS_1252_HIGH[c.charCodeAt(0) - 0x80]!))
      .replace(LIGATURE, (c) => LIGATURES[c] ?? c)
      .replace(WIDTH_FORM, (c) => (c === "\u3000" ? " " : c.normalize("NFKC")))
      .replace(SINGLE_QUOTE, "'")
      .replace(DOUBLE_QUOTE, '"')
      .replace(LINE_BREAK, "\n")
      .replace(TERMINAL_ESCAPE, ""),
  ).normalize("NFC")

/** The subset of `ftfy.fix_text` described above, repeated until nothing changes as ftfy does. */
export const fixTextLite = (text: string): string => {
  for (let pass = 0; pass < 8; pass++) {
    const fixed = fixOnce(text)
    if (fixed === text) return fixed
    text = fixed
  }
  return text
}

// Named references: the common ones. Keys without ";" are the HTML5 legacy forms that also match
// without a semicolon.
const NAMED_REFERENCES: Readonly<Record<string, string>> = {
  "amp;": "&",
  amp: "&",
  "AMP;": "&",
  AMP: "&",
  "lt;": "<",
  lt: "<",
  "LT;": "<",
  LT: "<",
  "gt;": ">",
  gt: ">",
  "GT;": ">",
  GT: ">",
  "quot;": '"',
  quot: '"',
  "QUOT;": '"',
  QUOT: '"',
  "apos;": "'",
  "nbsp;": "\u00a0",
  nbsp: "\u00a0",
  "copy;": "\u00a9",
  copy: "\u00a9",
  "reg;": "\u00ae",
  reg: "\u00ae",
  "times;": "\u00d7",
  times: "\u00d7",
  "middot;": "\u00b7",
  middot: "\u00b7",
  "hellip;": "\u2026",
  "ndash;": "\u2013",
  "mdash;": "\u2014",
  "lsquo;": "\u2018",
  "rsquo;": "\u2019",
  "ldquo;": "\u201c",
  "rdquo;": "\u201d",
}

const CHARACTER_REFERENCE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu

const isNoncharacterOrControl = (code: number): boolean =>
  (code >= 0x1 && code <= 0x8) ||
  code === 0xb ||
  (code >= 0xe && code <= 0x1f) ||
  (code >= 0x7f && code <= 0x9f) ||
  (code >= 0xfdd0 && code <= 0xfdef) ||
  (code & 0xfffe) === 0xfffe

const numericReference = (body: string): string => {
  const digits = body.replace(/;$/, "")
  const code =
    digits[1] === "x" || digits[1] === "X" ? parseInt(digits.slice(2), 16) : parseInt(digits.slice(1), 10)
  if (code === 0) return "\ufffd"
  if (code === 0x0d) return "\r"
  if (code >= 0x80 && code <= 0x9f) return String.fromCharCode(WINDOWS_1252_HIGH[code - 0x80]!)
  if ((code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return "\ufffd"
  if (isNoncharacterOrControl(code)) return ""
  return String.fromCodePoint(code)
}

const namedReference = (body: string): string => {
  const exact = NAMED_REFERENCES[body]
  if (exact !== undefined) return exact
  const chars = Array.from(body)
  for (let length = chars.length - 1; length > 1; length--) {
    const prefix = chars.slice(0, length).join("")
    const value = NAMED_REFERENCES[prefix]
    if (value !== undefined) return value + chars.slice(length).join("")
  }
  return `&${body}`
}

/** Python's html.unescape for numeric references and the named ones listed above. */
export const htmlUnescape = (text: string): string =>
  text.includes("&")
    ? text.replace(CHARACTER_REFERENCE, (_match, body: string) =>
        body.startsWith("#") ? numericReference(body) : namedReference(body),
      )
    : text

/** `whitespace_clean(basic_clean(text)).lower()`: what the tokenizer's regex sees. */
export const cleanPromptText = (text: string): string =>
  whitespaceClean(pyStrip(htmlUnescape(htmlUnescape(fixTextLite(text))))).toLowerCase()
