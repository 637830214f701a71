// Checks every publishable package the way npm users will meet it: publint (package.json, exports,
// files) and Are The Types Wrong (types resolve for ESM consumers). Run after `npm run build`.
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
const packages = readdirSync(join(root, "packages")).filter((name) => {
  try {
    return !JSON.parse(readFileSync(join(root, "packages", name, "package.json"), "utf8")).private
  } catch {
    return false
  }
})

const failures = []
for (const name of packages) {
  const dir = join(root, "packages", name)
  for (const [tool, args] of [
    ["publint", ["publint", "--strict"]],
    ["attw", ["attw", "--pack", ".", "--profile", "esm-only", "--format", "table-flipped"]],
  ]) {
    try {
      execFileSync("npx", ["--no-install", ...args], { cwd: dir, stdio: "pipe", encoding: "utf8" })
      process.stdout.write(`ok   ${tool} @danlu/${name}\n`)
    } catch (error) {
      failures.push(`${tool} @danlu/${name}`)
      process.stdout.write(`FAIL ${tool} @danlu/${name}\n${error.stdout ?? ""}${error.stderr ?? ""}\n`)
    }
  }
}
if (failures.length > 0) {
  process.stderr.write(`check-packages: ${failures.length} check(s) failed: ${failures.join(", ")}\n`)
  process.exit(1)
}
