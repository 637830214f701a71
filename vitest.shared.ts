import { defineConfig } from "vitest/config"

/**
 * Every package's vitest config. Workspace packages resolve to their `src/` through the `@danlu/source`
 * export condition, in both of vite's resolvers, so tests run on a fresh checkout without a build.
 */
export default defineConfig({
  resolve: { conditions: ["@danlu/source"] },
  ssr: { resolve: { conditions: ["@danlu/source"] } },
  test: { include: ["test/**/*.test.ts"], testTimeout: 60_000 },
})
