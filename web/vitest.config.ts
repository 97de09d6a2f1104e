// Unit tests of the console's pure modules (the campaign template checks). The browser tests
// are Playwright's (e2e/, run by e2e/run.sh).
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
})
