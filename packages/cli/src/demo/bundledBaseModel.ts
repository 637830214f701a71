import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const fileName = "danlu-demo-base.safetensors"

/**
 * Where the package keeps the demo's pretrained base model: `assets/` at the package root, found from the
 * bundled `dist/main.js` (one level down) or from the sources (two levels down) alike.
 */
export const bundledBaseModelPath = (): string => {
  const candidates = [`../assets/${fileName}`, `../../assets/${fileName}`].map((relative) =>
    fileURLToPath(new URL(relative, import.meta.url)),
  )
  return candidates.find((path) => existsSync(path)) ?? candidates[0]!
}
