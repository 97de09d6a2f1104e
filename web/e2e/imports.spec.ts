// 导入: a CSV with two good rows and two bad ones; the bad rows are listed with their row
// numbers and the server's Chinese messages.
import { test, expect, login, go, onlyOn, screenshotBoth } from './fixtures'
import { uniqueId } from './residents'

test('导入: upload progress, import progress, and the failed rows in a table', async ({ page, watch }) => {
  void watch
  onlyOn('desktop')
  const sex = (id: string) => (Number(id[16]) % 2 ? '男' : '女') // GB 11643: the 17th digit
  const good1 = uniqueId()
  const good2 = uniqueId()
  const bad2 = uniqueId()
  const badId = good1.slice(0, 17) + (good1[17] === '0' ? '1' : '0') // wrong check character
  const csv = [
    '身份证号码,姓名,性别,手机号码,村居,是否就业,是否被征地农民,参保状态',
    `${good1},导入测试甲,${sex(good1)},13800001111,振兴村,否,否,未参保`,
    `${badId},导入测试乙,${sex(badId)},13800002222,振兴村,否,否,未参保`,
    `${good2},导入测试丙,${sex(good2)},,振兴村,否,否,城乡居民养老保险`,
    `${bad2},导入测试丁,${sex(bad2)},13800004444,不存在村,否,否,未参保`,
  ].join('\r\n')

  await login(page, 'admin')
  await go(page, 'imports')
  await page.locator('[data-test=import-file]').setInputFiles({ name: 'e2e-roster.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
  await page.locator('[data-test=import-start]').click()
  await expect(page.locator('[data-test=upload-progress]')).toHaveAttribute('aria-valuenow', '100')
  await expect(page.locator('[data-test=import-summary]')).toContainText('已完成')
  await expect(page.locator('[data-test=import-summary]')).toContainText('共 4 行')
  await expect(page.locator('[data-test=job-progress]')).toHaveAttribute('aria-valuenow', '100')

  const rows = page.locator('[data-test=import-errors] .el-table__body-wrapper .el-table__row')
  await expect(rows).toHaveCount(2)
  await expect(rows.nth(0).locator('td').nth(0)).toHaveText('3')
  await expect(rows.nth(0)).toContainText('身份证号码')
  await expect(rows.nth(0).locator('td').nth(2)).toHaveText(/[\u4e00-\u9fa5]/)
  await expect(rows.nth(1).locator('td').nth(0)).toHaveText('5')
  await expect(rows.nth(1)).toContainText('村居')
  await expect(rows.nth(1).locator('td').nth(2)).toHaveText(/[\u4e00-\u9fa5]/)
  await screenshotBoth(page, 'imports', () => expect(rows.first()).toBeVisible())

  const [report] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test=error-report]').click()])
  expect(report.suggestedFilename()).toMatch(/^import-\d+-errors\.xlsx$/)
  const [tpl] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test=template-xlsx]').click()])
  expect(tpl.suggestedFilename()).toBe('roster-template.xlsx')
})
