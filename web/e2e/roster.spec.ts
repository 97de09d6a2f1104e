import { test, expect, login, screenshot, width, type Page } from './fixtures'

async function pick(page: Page, testId: string, option: string) {
  await page.locator(`[data-test=${testId}]`).click()
  await page.locator('.el-select-dropdown__item:visible', { hasText: option }).first().click()
}

// settled waits until the roster is not loading.
async function settled(page: Page) {
  await expect(page.locator('[data-test=roster-list][data-loading=false]')).toHaveCount(1)
}

const rows = (page: Page, phone: boolean) =>
  phone ? page.locator('[data-test=roster-card]') : page.locator('[data-test=roster-table] .el-table__body-wrapper .el-table__row')

test('花名册: filters, server pages and an audited reveal', async ({ page, watch }, info) => {
  void watch
  const phone = info.project.name === 'phone'
  await login(page, 'admin')
  if (phone) await page.locator('.bottom-nav [data-menu=roster]').click()
  else await page.locator('.side [data-menu=roster]').click()
  await expect(page).toHaveURL(/\/console\/roster/)
  await expect(rows(page, phone).first()).toBeVisible()

  await pick(page, 'filter-status', '未参保')
  await pick(page, 'filter-gender', '女')
  await page.locator('[data-test=filter-age-min] input').fill('30')
  await page.locator('[data-test=filter-age-max] input').fill('45')
  await page.locator('[data-test=filter-apply]').click()
  await expect(page).toHaveURL(/status=unenrolled/)
  await expect(page).toHaveURL(/gender=female/)
  await expect(page).toHaveURL(/age_min=30&age_max=45/)
  await settled(page)
  const list = rows(page, phone)
  const texts = await list.allTextContents()
  expect(texts.length).toBeGreaterThan(0)
  for (const t of texts) {
    expect(t).toContain('未参保')
    expect(t).toContain('女')
    expect(t).toMatch(/\d{4}\*{10}[\dX]{4}/)
  }
  await screenshot(page, 'roster', width(page))

  // Next page: other people, the filters kept.
  const first = await list.first().textContent()
  await page.locator('[data-test=roster-pager] .btn-next').click()
  await expect(page).toHaveURL(/page=2/)
  await expect(page).toHaveURL(/status=unenrolled/)
  await settled(page)
  await expect(list.first()).not.toHaveText(first ?? '')

  // Reveal: a reason is required, the answer shows the full values.
  await list.first().locator('[data-test=reveal]').click()
  const dialog = page.locator('.el-dialog')
  await expect(dialog).toBeVisible()
  await dialog.locator('[data-test=reveal-confirm]').click()
  await expect(page.getByText('请填写查看原因')).toBeVisible()
  await dialog.getByText('电话联系本人').click()
  await dialog.locator('[data-test=reveal-confirm]').click()
  await expect(dialog.locator('[data-test=reveal-result]')).toContainText(/\d{17}[\dX]/)
  await screenshot(page, 'roster-reveal', width(page))
  await dialog.locator('[data-test=reveal-close]').click()
  await expect(dialog).toBeHidden()
})

test('a village admin sees only their own village, whatever the URL says', async ({ page, watch }, info) => {
  watch.allow.push(/status of 404/) // the refused filter
  const phone = info.project.name === 'phone'
  await login(page, 'zhenxing-admin')
  await expect(page).toHaveURL(/\/console\/dashboard/)
  await expect(page.locator('[data-test=progress-table] .el-table__row')).toHaveCount(1)
  await expect(page.locator('[data-test=progress-table]')).toContainText('振兴村')
  await expect(page.locator('[data-test=download-monthly]')).toHaveCount(0)

  await page.goto('/console/roster') // a typed URL reloads the app: the refresh cookie keeps the session
  await expect(page).toHaveURL(/\/console\/roster/)
  await expect(rows(page, phone).first()).toBeVisible()
  await settled(page)
  const own = await rows(page, phone).allTextContents()
  expect(own.length).toBeGreaterThan(0)
  for (const t of own) expect(t).toContain('振兴村')

  // Another village's filter, typed into the address (in-app navigation keeps the session).
  await page.evaluate(() => {
    history.pushState({}, '', '/console/roster?village=luoxi')
    dispatchEvent(new PopStateEvent('popstate'))
  })
  await expect(page.locator('[data-test=roster-error]')).toContainText('未找到或无权查看')
  await settled(page)
  await expect(rows(page, phone)).toHaveCount(0)
  await expect(page.locator('[data-test=roster-list]')).not.toContainText('罗溪村')
})

// rosterAnswer waits for the roster's API answer to a query whose URL matches and returns it.
async function rosterAnswer(page: Page, match: (u: URL) => boolean) {
  const r = await page.waitForResponse((r) => {
    const u = new URL(r.url())
    return u.pathname === '/api/v1/admin/residents' && r.request().method() === 'GET' && match(u)
  })
  expect(r.status()).toBe(200)
  return (await r.json()) as { total: number; items: { id: number; last_visit: { outcome: string } | null }[] }
}

const shownTotal = async (page: Page) => Number(await page.locator('[data-test=roster-total]').getAttribute('data-total'))

test('花名册: filter by employment and by the latest visit outcome', async ({ page, watch }, info) => {
  void watch
  const phone = info.project.name === 'phone'
  await login(page, 'admin')
  const everyone = rosterAnswer(page, (u) => !u.searchParams.has('last_visit_outcome'))
  await page.goto('/console/roster')
  const all = await everyone
  await settled(page)
  expect(await shownTotal(page)).toBe(all.total)

  // 考虑中: the demo's volunteers left people considering in every village.
  const considering = rosterAnswer(page, (u) => u.searchParams.get('last_visit_outcome') === 'considering')
  await pick(page, 'filter-outcome', '考虑中')
  await page.locator('[data-test=filter-apply]').click()
  const got = await considering
  await expect(page).toHaveURL(/last_visit_outcome=considering/)
  await settled(page)
  expect(got.total).toBeGreaterThan(0)
  expect(got.total).toBeLessThan(all.total)
  expect(got.items.every((p) => p.last_visit?.outcome === 'considering')).toBe(true)
  await expect(page.locator('[data-test=roster-total]')).toHaveAttribute('data-total', String(got.total))
  const list = rows(page, phone)
  await expect(list).toHaveCount(Math.min(got.total, 20))
  for (const t of await list.allTextContents()) expect(t).toContain('考虑中')
  await screenshot(page, 'roster-outcome', width(page))

  // 未就业 on top: the API's answer, never more people than before, still all considering.
  const notEmployed = rosterAnswer(page, (u) => u.searchParams.get('employed') === 'false' && u.searchParams.get('last_visit_outcome') === 'considering')
  await pick(page, 'filter-employed', '未就业')
  await page.locator('[data-test=filter-apply]').click()
  const both = await notEmployed
  await expect(page).toHaveURL(/employed=false/)
  await settled(page)
  expect(both.total).toBeLessThanOrEqual(got.total)
  await expect(page.locator('[data-test=roster-total]')).toHaveAttribute('data-total', String(both.total))
  await expect(list).toHaveCount(Math.min(both.total, 20))
  for (const t of await list.allTextContents()) expect(t).toContain('考虑中')

  // 未走访 (never visited): a reload keeps the filters from the URL.
  const never = rosterAnswer(page, (u) => u.searchParams.get('last_visit_outcome') === 'none')
  await pick(page, 'filter-outcome', '未走访')
  await page.locator('[data-test=filter-apply]').click()
  const none = await never
  await expect(page).toHaveURL(/last_visit_outcome=none/)
  await settled(page)
  expect(none.items.every((p) => p.last_visit === null)).toBe(true)
  await expect(page.locator('[data-test=roster-total]')).toHaveAttribute('data-total', String(none.total))
  for (const t of await list.allTextContents()) expect(t).toContain('未走访')
  const reloaded = rosterAnswer(page, (u) => u.searchParams.get('last_visit_outcome') === 'none' && u.searchParams.get('employed') === 'false')
  await page.reload()
  expect((await reloaded).total).toBe(none.total)
  await settled(page)
  await expect(page.locator('[data-test=roster-total]')).toHaveAttribute('data-total', String(none.total))

  // 重置: everyone again.
  await page.locator('[data-test=filter-reset]').click()
  await expect(page).not.toHaveURL(/last_visit_outcome/)
  await settled(page)
  await expect(page.locator('[data-test=roster-total]')).toHaveAttribute('data-total', String(all.total))
})
