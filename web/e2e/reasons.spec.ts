// 未参保原因分析 (issue #14, 数据分析运用): staff read why people stay out, by village, age band and
// gender, for the year so far and for a window they choose; a village admin sees their village
// only. The page shows what GET /api/v1/admin/analysis/reasons answers (the demo's volunteers
// recorded visits with all four reasons), with the server's Chinese labels.
import { test, expect, login, go, onlyOn, screenshotBoth, apiToken, type Page } from './fixtures'

interface Group {
  code: string
  label: string
  people: number
  staying_out: number
}
interface Analysis {
  from: string
  to: string
  village: string | null
  totals: { visits: number; people: number; staying_out: number; without_reason: number }
  by_reason: { code: string; label: string; count: number }[]
  by_village: Group[]
  by_age_band: Group[]
  by_gender: Group[]
}

async function analysis(page: Page, token: string, query = ''): Promise<Analysis> {
  const r = await page.request.get(`/api/v1/admin/analysis/reasons${query}`, { headers: { Authorization: `Bearer ${token}` } })
  expect(r.status()).toBe(200)
  return (await r.json()) as Analysis
}

const n = (x: number) => x.toLocaleString('zh-CN')

test('未参保原因分析: staff read the reasons by village, age band and gender, and narrow the window', async ({ page, watch }) => {
  void watch
  onlyOn('desktop')
  const staff = await apiToken(page, 'staff')
  const town = await analysis(page, staff)
  expect(town.totals.staying_out).toBeGreaterThan(0)

  await login(page, 'staff')
  await go(page, 'reasons')
  await expect(page.locator('[data-test=reasons][data-loading=false]')).toHaveCount(1)
  await expect(page.locator('[data-test=reasons-window]')).toHaveText(`${town.from} 至 ${town.to}`)
  await expect(page.locator('[data-test=reasons-people] .num')).toHaveText(n(town.totals.people))
  await expect(page.locator('[data-test=reasons-staying-out] .num')).toHaveText(n(town.totals.staying_out))
  // Every reason given, with the server's label and count.
  for (const r of town.by_reason.filter((x) => x.count > 0)) {
    await expect(page.locator(`[data-test=reasons-reasons] li[data-code=${r.code}]`)).toContainText(r.label)
    await expect(page.locator(`[data-test=reasons-reasons] li[data-code=${r.code}] .bar-num`)).toContainText(n(r.count))
  }
  // The pivot: a row per village, then per age band and gender.
  const table = page.locator('[data-test=reasons-table]')
  await expect(table.locator('tbody tr')).toHaveCount(town.by_village.length)
  const first = town.by_village[0]!
  await expect(table.locator(`tbody tr[data-key=${first.code}] td`).nth(0)).toHaveText(first.label)
  await expect(table.locator(`tbody tr[data-key=${first.code}] td`).nth(1)).toHaveText(n(first.people))
  await page.locator('[data-test=reasons-dim]').getByText('按年龄段').click()
  await expect(table).toHaveAttribute('data-dim', 'by_age_band')
  await expect(table.locator('tbody tr')).toHaveCount(town.by_age_band.length)
  await page.locator('[data-test=reasons-dim]').getByText('按性别').click()
  await expect(table.locator('tbody tr')).toHaveCount(town.by_gender.length)
  await expect(table.locator('tbody')).toContainText('女')
  await page.locator('[data-test=reasons-measure]').getByText('走访结果').click()
  await expect(table).toHaveAttribute('data-measure', 'by_outcome')
  await expect(table.locator('thead')).toContainText('拒绝')
  await screenshotBoth(page, 'reasons', () => expect(page.locator('[data-test=reasons][data-loading=false]')).toHaveCount(1))

  // One village and a window of its own, kept in the URL.
  const one = await analysis(page, staff, `?village=zhenxing&from=${town.from}&to=${town.to}`)
  await page.locator('[data-test=reasons-village]').click()
  await page.locator('.el-select-dropdown__item:visible', { hasText: '振兴村' }).first().click()
  await page.locator('[data-test=reasons-apply]').click()
  await expect(page).toHaveURL(/village=zhenxing/)
  await expect(page.locator('[data-test=reasons][data-loading=false]')).toHaveCount(1)
  await expect(page.locator('[data-test=reasons-people] .num')).toHaveText(n(one.totals.people))
  await page.locator('[data-test=reasons-dim]').getByText('按村（社区）').click()
  await expect(table.locator('tbody tr')).toHaveCount(one.by_village.length)
})

test('未参保原因分析: a village admin sees their own village', async ({ page, watch }) => {
  void watch
  onlyOn('phone') // on a phone the page is in the 更多 drawer
  const admin = await apiToken(page, 'zhenxing-admin')
  const own = await analysis(page, admin)
  expect(own.village).toBe('zhenxing')
  await login(page, 'zhenxing-admin')
  await go(page, 'reasons')
  await expect(page.locator('[data-test=reasons][data-loading=false]')).toHaveCount(1)
  await expect(page.locator('[data-test=reasons-people] .num')).toHaveText(n(own.totals.people))
  await expect(page.locator('[data-test=reasons-village] .is-disabled, [data-test=reasons-village].is-disabled').first()).toBeVisible()
  await expect(page.locator('[data-test=reasons-table] tbody tr')).toHaveCount(own.by_village.length)
})
