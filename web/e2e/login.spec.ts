import { gzipSync } from 'node:zlib'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, expect, login, screenshot, width } from './fixtures'

const BUDGET_LOGIN_JS_GZ = 300 * 1024
// The dashboard budget: submit → chart drawn within 1 s against the local server. It is always
// measured and reported (the test's annotation and the run's output); it fails the test only
// with E2E_ENFORCE_BUDGETS=1 (`make web-budgets`, on an otherwise idle machine), because on a
// shared 2-core CI machine a wall-clock assertion would fail with the load, not with the code.
const BUDGET_CHART_MS = Number(process.env.E2E_CHART_BUDGET_MS ?? 1000)
const ENFORCE_BUDGETS = process.env.E2E_ENFORCE_BUDGETS === '1'

test('login page loads little JavaScript, all of it compressed', async ({ page, watch }, info) => {
  void watch
  test.skip(info.project.name !== 'desktop', 'measured once')
  const js: { url: string; bytes: number; encoding: string }[] = []
  let pending = 0
  page.on('response', async (r) => {
    if (!r.url().endsWith('.js')) return
    pending++
    try {
      const sizes = await r.request().sizes()
      js.push({ url: r.url(), bytes: sizes.responseBodySize, encoding: (await r.allHeaders())['content-encoding'] ?? '' })
    } finally {
      pending--
    }
  })
  // Everything the login form needs has arrived once it shows (its chunk is loaded before it
  // renders). Waiting for "network idle" instead would depend on no request being in flight.
  await page.goto('/console/login', { waitUntil: 'load' })
  await expect(page.getByRole('button', { name: '登录' })).toBeVisible()
  await expect.poll(() => pending).toBe(0) // the size handlers of the responses seen so far
  const total = js.reduce((s, r) => s + r.bytes, 0)

  // The whole build, gzipped, for the record.
  const dir = join(process.cwd(), 'dist', 'assets')
  let all = 0
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.js'))) all += gzipSync(readFileSync(join(dir, f)), { level: 9 }).length
  console.log(`login page JS: ${js.length} files, ${(total / 1024).toFixed(1)} KiB gzipped; whole build JS ${(all / 1024).toFixed(1)} KiB gzipped`)
  info.annotations.push({ type: 'login-js-gz', description: String(total) }, { type: 'all-js-gz', description: String(all) })

  expect(js.length).toBeGreaterThan(0)
  for (const r of js) if (r.bytes > 1024) expect(r.encoding, r.url).toBe('gzip') // small files are sent as they are
  expect(total).toBeLessThanOrEqual(BUDGET_LOGIN_JS_GZ)
  expect(js.some((r) => /echarts|DashboardView|RosterView/.test(r.url))).toBe(false)
})

test('login page and errors are in Chinese; a locked account says how long to wait', async ({ page, watch }) => {
  watch.allow.push(/status of 40[01]|status of 429/) // the failed logins themselves
  await page.goto('/console/login')
  await expect(page.getByText('全民参保工作台')).toBeVisible()
  await screenshot(page, 'login', width(page))
  await page.locator('[data-test=login-submit]').click()
  await expect(page.getByText('请输入用户名')).toBeVisible()

  const ghost = `ghost${test.info().project.name}${Date.now() % 100000}`
  await page.locator('input[name=username]').fill(ghost)
  await page.locator('input[name=password]').fill('Wrong-passw0rd')
  let text = ''
  for (let i = 0; i < 8; i++) {
    await page.locator('[data-test=login-submit]').click()
    const alert = page.locator('[data-test=login-error]')
    await expect(alert).toBeVisible()
    await expect(page.locator('[data-test=login-submit]')).not.toHaveClass(/is-loading/)
    text = (await alert.textContent()) ?? ''
    if (text.includes('锁定')) break
    expect(text).toContain('用户名或密码错误')
  }
  expect(text).toMatch(/锁定.*请 \d+ (秒|分钟)后再试/)
})

test('labour office admin: 总览 draws the chart within a second of logging in', async ({ page, watch, browser }) => {
  void watch
  // Warm the server (first-request work: gzip of each chunk, MySQL caches) in another browser
  // context, so the measured login sees a cold browser cache but a running server.
  const warm = await browser.newContext({ viewport: page.viewportSize() ?? undefined })
  const wp = await warm.newPage()
  await wp.goto('/console/login')
  await wp.locator('input[name=username]').fill('admin')
  await wp.locator('input[name=password]').fill(process.env.E2E_PASSWORD ?? '')
  await wp.locator('[data-test=login-submit]').click()
  await wp.locator('[data-test=progress-chart] canvas').waitFor()
  await warm.close()

  await page.goto('/console/login')
  await page.locator('input[name=username]').fill('admin')
  await page.locator('input[name=password]').fill(process.env.E2E_PASSWORD ?? '')
  await page.locator('[data-test=login-submit]').click()
  await expect(page).toHaveURL(/\/console\/dashboard/)
  await expect(page.locator('[data-test=progress-chart] canvas')).toBeVisible()
  await page.waitForFunction(() => performance.getEntriesByName('dashboard-chart').length > 0)
  const ms = await page.evaluate(() => performance.measure('login-to-chart', 'login-submit', 'dashboard-chart').duration)
  console.log(`${test.info().project.name}: submit → chart drawn ${ms.toFixed(0)} ms`)
  test.info().annotations.push({ type: 'chart-ms', description: ms.toFixed(0) })
  if (ENFORCE_BUDGETS) {
    expect.soft(ms, 'submit → chart (ms)').toBeLessThanOrEqual(BUDGET_CHART_MS) // soft: the page checks below still run
  } else if (ms > BUDGET_CHART_MS) {
    console.log(`budget: submit → chart ${ms.toFixed(0)} ms is over ${BUDGET_CHART_MS} ms (not enforced; E2E_ENFORCE_BUDGETS=1 enforces it)`)
  }

  await expect(page.locator('[data-test=progress-table] .el-table__row')).toHaveCount(14) // the demo town's villages
  await expect(page.getByText('预计完成日期')).toBeVisible()
  const menu = page.locator('[data-menu]')
  await expect(menu.nth(0)).toHaveText(/总览/) // the admin's menu starts with 总览 and 花名册
  await expect(menu.nth(1)).toHaveText(/花名册/)
  await screenshot(page, 'dashboard', width(page))

  // The bulletin downloads as an XLSX file through a blob: URL.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test=download-monthly]').click()])
  expect(dl.suggestedFilename()).toMatch(/^canbao-monthly-\d{4}-\d{2}\.xlsx$/)
  const [dl2] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test=download-assessment]').click()])
  expect(dl2.suggestedFilename()).toMatch(/^canbao-assessment-\d{4}\.csv$/)

})

void login
