// 用户: the labour office admin creates a volunteer account and disables it; the disabled
// account can no longer log in.
import { test, expect, login, go, onlyOn, screenshotBoth, password } from './fixtures'

test('用户: create a volunteer account, then disable it', async ({ page, watch }) => {
  void watch
  onlyOn('desktop')
  await login(page, 'admin')
  await go(page, 'users')
  const rows = page.locator('[data-test=user-table] .el-table__body-wrapper .el-table__row')
  await expect(rows.first()).toBeVisible()

  const name = `e2e-vol-${Date.now() % 1000000}`
  await page.locator('[data-test=user-new]').click()
  const dialog = page.locator('.el-dialog')
  await dialog.locator('[data-test=user-username]').fill(name)
  await dialog.locator('[data-test=user-password-input]').fill(password)
  await dialog.locator('[data-test=user-role]').getByText('村协管员').click()
  await dialog.locator('[data-test=user-create]').click()
  await expect(dialog).toContainText('请选择所属村（社区）') // a volunteer belongs to a village
  await dialog.locator('[data-test=user-village]').click()
  await page.locator('.el-select-dropdown__item:visible', { hasText: '振兴村' }).click()
  await dialog.locator('[data-test=user-create]').click()
  await expect(dialog).toBeHidden()

  const row = rows.filter({ hasText: name })
  await expect(row).toContainText('村协管员')
  await expect(row).toContainText('振兴村')
  await expect(row.locator('[data-test=user-state]')).toHaveText('正常')
  const ok = await page.request.post('/api/v1/auth/staff', { data: { username: name, password } })
  expect(ok.status()).toBe(200)
  await screenshotBoth(page, 'users', () => expect(page.locator('[data-test=user-card]').first().or(rows.first())).toBeVisible())

  await row.locator('[data-test=user-disable]').click()
  await page.locator('.el-message-box').getByRole('button', { name: '停用' }).click()
  await expect(row.locator('[data-test=user-state]')).toHaveText('已停用')
  const refused = await page.request.post('/api/v1/auth/staff', { data: { username: name, password } })
  expect(refused.status()).toBe(401)
})
