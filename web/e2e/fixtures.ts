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
    // A fresh page asks once whether a refresh cookie signs it in; without one the answer is 401.
    const w: Watch = { problems: [], allow: [/status of 401 .*@ .*\/api\/v1\/auth\/refresh$/] }
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

// onlyOn runs a journey in one project (desktop or phone); the other width is covered by
// screenshotBoth, which resizes the same page. Keeps the suite lean on a 2-core machine.
export function onlyOn(project: 'desktop' | 'phone'): void {
  test.skip(test.info().project.name !== project, `journey runs on ${project}`)
}

// screenshotBoth saves the page at 1440 and at 375 px (toasts removed), then restores the
// viewport. ready waits for what the resized page must show before its picture is taken.
export async function screenshotBoth(page: Page, name: string, ready?: () => Promise<void>): Promise<void> {
  const was = page.viewportSize() ?? { width: 1440, height: 900 }
  for (const w of [1440, 375]) await shootAt(page, name, w, ready)
  await resize(page, was.width)
}

// shootAt resizes the page to a width (1440 or 375) and saves its screenshot.
export async function shootAt(page: Page, name: string, w: number, ready?: () => Promise<void>): Promise<void> {
  if (await resize(page, w)) await ready?.()
  await page.locator('.el-message').evaluateAll((els) => els.forEach((e) => e.remove()))
  await page.evaluate(() => window.scrollTo(0, 0)) // a full-page capture of a scrolled page repeats the sticky bars
  await screenshot(page, name, w)
}

async function resize(page: Page, w: number): Promise<boolean> {
  if (page.viewportSize()?.width === w) return false
  await page.setViewportSize(w > 600 ? { width: w, height: 900 } : { width: w, height: 812 })
  await expect(page.locator(w > 600 ? 'aside.side' : 'nav.bottom-nav')).toBeVisible()
  return true
}

// go opens a page from the menu: the side menu on desktop; on phones the bottom bar, or its
// 更多 drawer when the page is not one of the first tabs.
export async function go(page: Page, name: string): Promise<void> {
  if (await page.locator('aside.side').isVisible()) {
    await page.locator(`aside.side [data-menu=${name}]`).click()
  } else {
    const tab = page.locator(`nav.bottom-nav [data-menu=${name}]`)
    if (await tab.count()) await tab.click()
    else {
      await page.locator('nav.bottom-nav [data-menu=more]').click()
      await page.locator(`.more-list [data-menu=${name}]`).click()
    }
  }
  await page.waitForURL((u) => u.pathname.endsWith(`/${name}`))
}

// apiToken logs in through the API (a token session) for checks and setup the UI does not do.
export async function apiToken(page: Page, username: string): Promise<string> {
  const r = await page.request.post('/api/v1/auth/staff', { data: { username, password } })
  expect(r.status(), `API login as ${username}`).toBe(200)
  return ((await r.json()) as { token: string }).token
}
