// 登记审核: residents register through the mini-program (here the dev WeChat stand-in and the
// API); the village admin confirms one and rejects another with a reason.
import { test, expect, login, go, onlyOn, screenshotBoth } from './fixtures'
import { register } from './residents'

test('登记审核: the village admin confirms one registration and rejects another with a reason', async ({ page, watch }) => {
  void watch
  onlyOn('desktop')
  const a = await register(page, '测试登记甲')
  const b = await register(page, '测试登记乙')

  await login(page, 'zhenxing-admin')
  await go(page, 'registrations')
  const cardA = page.locator(`[data-test=registration][data-id="${a}"]`)
  const cardB = page.locator(`[data-test=registration][data-id="${b}"]`)
  await expect(cardA).toContainText('测试登记甲')
  await expect(cardA.locator('[data-test=reg-status-tag]')).toHaveText('待审核')
  await expect(cardA).toContainText(/3505\*{10}\d{3}[\dX]/)
  await screenshotBoth(page, 'registrations', () => expect(cardA).toBeVisible())

  await cardA.locator('[data-test=reg-confirm]').click()
  await page.locator('.el-message-box').getByRole('button', { name: '确认' }).click()
  await expect(cardA.locator('[data-test=reg-status-tag]')).toHaveText('已确认')
  await expect(cardA.locator('[data-test=reg-confirm]')).toHaveCount(0)

  await cardB.locator('[data-test=reg-reject]').click()
  const box = page.locator('.el-message-box')
  await box.getByRole('button', { name: '退回' }).click()
  await expect(box).toContainText('请填写退回原因')
  await box.locator('input').fill('身份证号与户籍信息不符，请带身份证到村委会核对')
  await box.getByRole('button', { name: '退回' }).click()
  await expect(cardB.locator('[data-test=reg-status-tag]')).toHaveText('已退回')
  await expect(cardB.locator('[data-test=reg-reason]')).toContainText('请带身份证到村委会核对')

  // The confirmed one is listed under 已确认.
  await page.locator('[data-test=reg-status]').getByText('已确认').click()
  await expect(page.locator(`[data-test=registration][data-id="${a}"]`)).toBeVisible()
})
