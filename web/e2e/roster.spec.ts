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
