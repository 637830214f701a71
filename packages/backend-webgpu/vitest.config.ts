import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@danlu/source"] },
  test: { include: ["test/**/*.test.ts"], testTimeout: 60_000 },
})
