// Module hooks that let a child `node` process run danlu's TypeScript sources directly (tests only):
// `.js` specifiers fall back to their `.ts` file, and `.ts` files are transpiled by esbuild (tsup's).
import { readFile } from "node:fs/promises"
import { transform } from "esbuild"

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context)
  } catch (error) {
    if (/^\.{1,2}\//.test(specifier) && specifier.endsWith(".js")) {
      return next(`${specifier.slice(0, -3)}.ts`, context)
    }
    throw error
  }
}

export async function load(url, context, next) {
  if (url.endsWith(".json")) return next(url, { ...context, importAttributes: { type: "json" } })
  if (!url.endsWith(".ts")) return next(url, context)
  const source = await readFile(new URL(url), "utf8")
  const { code } = await transform(source, { loader: "ts", format: "esm", target: "es2022", sourcefile: url })
  return { format: "module", source: code, shortCircuit: true }
}
