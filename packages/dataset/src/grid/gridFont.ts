import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"

/** A font for grid labels: a Pango family name and, for a font not installed system-wide, its file. */
export interface GridFont {
  /** The family stored in the file (what `fc-scan` prints), or a fontconfig alias such as "sans-serif". */
  readonly family: string
  /** Absolute path of a TTF/OTF; sharp's bundled FreeType reads neither WOFF nor WOFF2. */
  readonly file?: string
}

/**
 * The npm package whose OTF gives grid labels CJK glyphs (Noto Sans Hans, GB2312 plus kana and Latin,
 * OFL-1.1). Its `fonts/` folder is not an export, so it is found through the package's entry point.
 */
export const cjkFontPackage = "@embedpdf/fonts-sc"
const cjkFontFile = "fonts/NotoSansHans-Regular.otf"
const cjkFontFamily = "Noto Sans S Chinese"

/** Where the CJK font is installed, or undefined when the package is missing. */
export const cjkGridFont = (): GridFont | undefined => {
  try {
    const entry = createRequire(import.meta.url).resolve(cjkFontPackage)
    const file = join(dirname(dirname(entry)), cjkFontFile)
    return existsSync(file) ? { family: cjkFontFamily, file } : undefined
  } catch {
    return undefined
  }
}

/** The CJK font when installed, otherwise fontconfig's sans-serif (CJK labels then show as boxes). */
export const defaultGridFont = (): GridFont => cjkGridFont() ?? { family: "sans-serif" }
