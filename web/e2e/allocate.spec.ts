// 任务分解: a dry run of the annex's rounding shows that its rows do not add up to the quota;
// the largest-remainder method has no such warning.
import { test, expect, login, go, onlyOn, screenshotBoth } from './fixtures'

test('任务分解: round warns that the rows do not sum to 9777; largest_remainder does not', async ({ page, watch }) => {
  void watch
  onlyOn('desktop')
  await login(page, 'admin')
  await go(page, 'allocate')
  await page.locator('[data-test=alloc-method]').getByText('逐村四舍五入').click()
  await page.locator('[data-test=alloc-dry]').click()
  const warnings = page.locator('[data-test=alloc-warning]')
  await expect(warnings.first()).toBeVisible()
  await expect(page.locator('[data-test=alloc-warnings]')).toContainText('各村应扩面人数合计9778，与总数9777不符')
  await expect(page.locator('[data-test=alloc-warnings]')).toContainText('7821')
  await expect(page.locator('[data-test=alloc-table] .el-table__body-wrapper .el-table__row')).toHaveCount(14)
  await expect(page.locator('[data-test=alloc-table]')).toContainText('振兴村')
  await screenshotBoth(page, 'allocate', () => expect(warnings.first()).toBeVisible())

  await page.locator('[data-test=alloc-method]').getByText('最大余数法').click()
  await page.locator('[data-test=alloc-dry]').click()
  await expect(page.locator('[data-test=alloc-ok]')).toBeVisible()
  await expect(warnings).toHaveCount(0)
  await expect(page.locator('[data-test=alloc-table] .el-table__footer')).toContainText('9,777')
})
