// 移交: the admin exports the hand-over workbook and uploads the centre's answers.
import { readFileSync } from 'node:fs'
import { test, expect, login, go, onlyOn, screenshotBoth, apiToken } from './fixtures'
import { register } from './residents'

test('移交: export downloads the workbook; uploading answers shows the outcome', async ({ page, watch }) => {
  void watch
  onlyOn('phone') // on a phone 移交 is in the 更多 drawer
  // A confirmed registration today, so the hand-over has a row.
  const id = await register(page, '移交测试')
  const admin = await apiToken(page, 'admin')
  const ok = await page.request.post(`/api/v1/admin/registrations/${id}/confirm`, { headers: { Authorization: `Bearer ${admin}` } })
  expect(ok.status()).toBe(200)

  await login(page, 'admin')
  await go(page, 'handover')
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test=handover-export]').click()])
  expect(dl.suggestedFilename()).toMatch(/^canbao-registrations-\d{8}-\d{8}\.xlsx$/)
  const path = await dl.path()
  const xlsx = readFileSync(path)
  expect(xlsx.subarray(0, 2).toString()).toBe('PK') // a zip: an XLSX workbook

  // The workbook back as the centre's answer, 办理结果 still empty: nothing changes, and the
  // page says so row by row.
  await page.locator('[data-test=answers-file]').setInputFiles({
    name: dl.suggestedFilename(),
    mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    buffer: xlsx,
  })
  await page.locator('[data-test=answers-upload]').click()
  const result = page.locator('[data-test=answers-result]')
  await expect(result).toBeVisible()
  await expect(result).toContainText('已办理')
  await expect(result).toContainText('行')
  await screenshotBoth(page, 'handover', () => expect(result).toBeVisible())
})
