import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { expect, it } from "vitest"

// `npm ci` must not download ONNX Runtime's CUDA binaries: the repository's .npmrc says so, npm hands
// each of its keys to install scripts as npm_config_<key>, and onnxruntime-node's install script
// decides with its own parseInstallFlag (false = skip). This runs that very function on the env npm
// would build from the repository's .npmrc, with nothing inherited from the shell that runs the test.
it("the repository's .npmrc makes onnxruntime-node's install script skip the download", () => {
  const npmrc = readFileSync(fileURLToPath(new URL("../../../.npmrc", import.meta.url)), "utf8")
  const env: Record<string, string> = { PATH: process.env.PATH ?? "" }
  for (const line of npmrc.split("\n")) {
    const match = /^\s*([^#;=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line)
    if (match?.[1] !== undefined && match[2] !== undefined) {
      env[`npm_config_${match[1].replaceAll("-", "_").toLowerCase()}`] = match[2]
    }
  }
  const utils = createRequire(import.meta.url).resolve("onnxruntime-node/script/install-utils.js")
  const flag = execFileSync(
    process.execPath,
    ["-e", `process.stdout.write(String(require(${JSON.stringify(utils)}).parseInstallFlag()))`],
    { env, encoding: "utf8" },
  )
  expect(flag).toBe("false")
})
