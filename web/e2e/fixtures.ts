// Shared test setup: every page is watched for console errors, uncaught exceptions and CSP
// violations (reported by a securitypolicyviolation listener installed before any script of
// the page runs); a test fails if any appears that it did not expect.
import { test as base, expect, type Page } from '@playwright/test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

export const password = process.env.E2E_PASSWORD ?? ''
const shots = process.env.E2E_SCREENSHOTS ?? ''

type Watch = { problems: string[]; allow: RegExp[] }

export const test = base.extend<{ watch: Watch }>({
  watch: async ({ page }, use) => {
    const w: Watch = { problems: [], allow: [] }
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`)
      })
    })
    page.on('console', (m) => {
      if (m.type() !== 'error') return
      const text = `${m.text()} @ ${m.location().url}`
      if (!w.allow.some((re) => re.test(text))) w.problems.push(text)
    })
    page.on('pageerror', (e) => w.problems.push(`uncaught: ${e.message}`))
    await use(w)
    expect(w.problems, 'console errors / CSP violations').toEqual([])
  },
})
export { expect, type Page }

export async function login(page: Page, username: string): Promise<void> {
  await page.goto('/console/login')
  await page.locator('input[name=username]').fill(username)
  await page.locator('input[name=password]').fill(password)
  await page.locator('[data-test=login-submit]').click()
  await page.waitForURL((u) => !u.pathname.endsWith('/login'))
}

export async function screenshot(page: Page, name: string, width: number): Promise<void> {
  if (!shots) return
  mkdirSync(shots, { recursive: true })
  await page.evaluate(() => document.fonts.ready)
  // Phones: what the screen shows (a full-page capture would paint the fixed bottom bar mid-page).
  await page.screenshot({ path: join(shots, `${name}-${width}.png`), fullPage: width > 600, animations: 'disabled' })
}

export function width(page: Page): number {
  return page.viewportSize()?.width ?? 0
}
