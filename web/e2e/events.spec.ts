// 宣传活动现场 (issue #14): staff plan a publicity event, see its mini-program code (fetched with
// the bearer token, shown through a blob: URL), download the A4 poster (a PDF), and watch a
// resident's check-in arrive in the stats; a village admin sees their village's event without
// the office's code, poster and stats.
//
// Assumes the backend of issue #14 (internal/event) is merged and, in dev mode, the server's
// WeChat stand-in (internal/wechat/wechattest) answers wxacode.getUnlimited with an image.
import { readFileSync } from 'node:fs'
import { test, expect, login, go, onlyOn, screenshotBoth, type Page } from './fixtures'
import { beijing, residentToken, stamp } from './outreach'

async function pickOption(page: Page, testId: string, option: string) {
  await page.locator(`[data-test=${testId}]`).click()
  await page.locator('.el-select-dropdown__item:visible', { hasText: option }).first().click()
  await page.keyboard.press('Escape')
}

// A date picker's text: typed, then Enter (the picker parses it with its format).
async function typeDate(page: Page, testId: string, text: string) {
  const input = page.locator(`input[data-test=${testId}], [data-test=${testId}] input`).first()
  await input.click()
  await input.fill(text)
  await input.press('Enter')
  await expect(input).toHaveValue(text)
}

const title = `振兴村参保集中宣传 ${stamp()}`

test('宣传活动现场: create an event, see its code, download the poster, and a check-in reaches the stats', async ({ page, watch }) => {
  void watch
  onlyOn('desktop')
  await login(page, 'staff')
  await go(page, 'events')
  await expect(page.locator('[data-test=event-list][data-loading=false]')).toHaveCount(1)

  // The form: a village event running now (so that a resident may check in), in 振兴村.
  await page.locator('[data-test=event-new]').click()
  const form = page.locator('[data-test=event-form]')
  await expect(form).toBeVisible()
  await page.locator('[data-test=event-save]').click() // nothing filled in: the form says what is missing
  await expect(form).toContainText('请填写活动名称')
  await expect(form).toContainText('请选择活动类型')
  await page.locator('input[data-test=event-title], [data-test=event-title] input').first().fill(title)
  await page.locator('[data-test=event-kind]').getByText('村居', { exact: true }).click()
  await page.locator('input[data-test=event-place], [data-test=event-place] input').first().fill('振兴村村委会广场')
  const now = Date.now()
  await typeDate(page, 'event-start', beijing(new Date(now - 10 * 60_000)))
  await typeDate(page, 'event-end', beijing(new Date(now + 3 * 3600_000)))
  await pickOption(page, 'event-villages', '振兴村')
  // A wrong credit code is caught as it is typed; cleared, the form saves.
  const employer = page.locator('input[data-test=event-employer], [data-test=event-employer] input').first()
  await employer.fill('91350100M000100Y44')
  await expect(form).toContainText('统一社会信用代码校验位不正确')
  await employer.fill('')
  await expect(form.locator('.el-form-item__error', { hasText: '统一社会信用代码' })).toHaveCount(0)
  const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/admin/events') && r.request().method() === 'POST')
  await page.locator('[data-test=event-save]').click()
  expect((await created).status()).toBe(201)

  // The event's page: its code image, fetched with the token, shown through a blob: URL.
  await expect(page).toHaveURL(/\/console\/events\/\d+$/)
  await expect(page.locator('[data-test=event-title]')).toHaveText(title)
  await expect(page.locator('[data-test=event-code]')).toHaveAttribute('data-state', 'ready')
  const img = page.locator('[data-test=event-code-img]')
  await expect(img).toHaveAttribute('src', /^blob:/)
  await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0)
  const scene = (await page.locator('[data-test=event-scene]').textContent())!.trim()
  expect(scene.length).toBeGreaterThan(0)
  expect(scene.length).toBeLessThanOrEqual(32)
  await expect(page.locator('[data-test=stat-checked_in] [data-test=stat-value]')).toHaveText('0')

  // The poster: a PDF (its magic bytes), saved through a blob: URL.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test=event-poster]').click()])
  expect(dl.suggestedFilename()).toMatch(/\.pdf$/)
  expect(readFileSync(await dl.path()).subarray(0, 5).toString('latin1')).toBe('%PDF-')

  // A resident scans the code: the mini-program checks in with the scene, twice (idempotent).
  const resident = await residentToken(page)
  for (let i = 0; i < 2; i++) {
    const r = await page.request.post('/api/v1/events/checkin', { headers: { Authorization: `Bearer ${resident}` }, data: { scene } })
    expect(r.status(), await r.text()).toBe(200)
  }
  await page.locator('[data-test=stats-refresh]').click()
  await expect(page.locator('[data-test=stat-checked_in] [data-test=stat-value]')).toHaveText('1')
  await expect(page.locator('[data-test=stats-village]')).toBeVisible()
  await expect(page.locator('[data-test=stats-age]')).toBeVisible()
  await expect(page.locator('[data-test=stats-gender]')).toBeVisible()
  await screenshotBoth(page, 'event-detail', () => expect(page.locator('[data-test=event-code]')).toHaveAttribute('data-state', 'ready'))

  // The list has it.
  await page.getByRole('button', { name: '‹ 活动列表' }).click()
  await expect(page.locator('[data-test=event-list][data-loading=false]')).toHaveCount(1)
  await expect(page.locator('[data-test=event-table] .el-table__row', { hasText: title })).toHaveCount(1)
  await screenshotBoth(page, 'events', () => expect(page.locator('[data-test=event-list][data-loading=false]')).toHaveCount(1))
})

test('宣传活动现场: a village admin sees their village’s event, without the code, poster and stats', async ({ page, watch }) => {
  void watch
  onlyOn('phone') // on a phone the page is in the 更多 drawer
  // The event, made through the API by staff.
  const staff = await (await page.request.post('/api/v1/auth/staff', { data: { username: 'staff', password: process.env.E2E_PASSWORD ?? '' } })).json()
  const own = `振兴村村口宣传 ${stamp()}`
  const now = Date.now()
  const r = await page.request.post('/api/v1/admin/events', {
    headers: { Authorization: `Bearer ${(staff as { token: string }).token}`, 'Idempotency-Key': `e2e-event-${stamp()}` },
    data: {
      title: own,
      kind: 'village',
      place: '振兴村村口',
      starts_at: new Date(now + 86_400_000).toISOString(),
      ends_at: new Date(now + 86_400_000 + 7_200_000).toISOString(),
      village_codes: ['zhenxing'],
    },
  })
  expect(r.status(), await r.text()).toBe(201)

  await login(page, 'zhenxing-admin')
  await go(page, 'events')
  await expect(page.locator('[data-test=event-list][data-loading=false]')).toHaveCount(1)
  await expect(page.locator('[data-test=event-new]')).toHaveCount(0)
  const card = page.locator('[data-test=event-card]', { hasText: own })
  await expect(card).toHaveCount(1)
  await card.click()
  await expect(page.locator('[data-test=event-title]')).toHaveText(own)
  await expect(page.locator('[data-test=event-when]')).toContainText(beijing(new Date(now + 86_400_000)).slice(0, 10))
  await expect(page.locator('[data-test=event-poster]')).toHaveCount(0)
  await expect(page.locator('[data-test=event-code]')).toHaveCount(0)
  await expect(page.locator('[data-test=event-stats]')).toHaveCount(0)
})
