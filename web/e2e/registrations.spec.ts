// 登记审核: residents register through the mini-program (here the dev WeChat stand-in and the
// API); the village admin sees the server's warnings on them (the demo seed gives one of
// zhenxing's pending registrations a phone other than the roster's; the test's own people are
// not on the roster), is asked again before confirming one with warnings, confirms one and
// rejects another with a reason.
import { test, expect, login, go, onlyOn, screenshotBoth, apiToken } from './fixtures'
import { register } from './residents'
import { pageOf, uniqueCreditCode } from './outreach'

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

  // Warnings: the seed's registration with a new phone, and the test's person not on the roster.
  const differs = '[data-test=reg-warning][data-code=phone_differs]'
  const seeded = page.locator('[data-test=registration]').filter({ has: page.locator(differs) }).first()
  await expect(seeded.locator(differs)).toContainText('手机号与花名册不符')
  await expect(seeded.locator(differs)).toContainText(/花名册记录的 1\d{2}\*{4}\d{4} 不一致/)
  await expect(cardA.locator('[data-test=reg-warning][data-code=not_on_roster]')).toContainText('花名册无此人')
  await screenshotBoth(page, 'registrations', async () => {
    await expect(cardA).toBeVisible()
    await expect(seeded.locator(`${differs} .warn-text`)).toBeVisible() // the message as text, phones too
  })

  // Confirming a registration with warnings asks again, listing them; cancelling changes nothing.
  const box = page.locator('.el-message-box')
  await seeded.locator('[data-test=reg-confirm]').click()
  await expect(box).toContainText('确认登记前请核实')
  await expect(box.locator('[data-test=reg-confirm-warnings]')).toContainText('手机号与花名册不符')
  await box.getByRole('button', { name: '取消' }).click()
  await expect(box).toBeHidden()
  await expect(seeded.locator('[data-test=reg-status-tag]')).toHaveText('待审核')

  await cardA.locator('[data-test=reg-confirm]').click()
  await expect(box.locator('[data-test=reg-confirm-warnings]')).toContainText('花名册无此人')
  await box.getByRole('button', { name: '已核实，确认' }).click()
  await expect(cardA.locator('[data-test=reg-status-tag]')).toHaveText('已确认')
  await expect(cardA.locator('[data-test=reg-confirm]')).toHaveCount(0)
  await expect(cardA.locator('[data-test=reg-warnings]')).toHaveCount(0) // decided: nothing left to check

  await cardB.locator('[data-test=reg-reject]').click()
  await box.getByRole('button', { name: '退回' }).click()
  await expect(box).toContainText('请填写退回原因')
  await box.locator('input').fill('身份证号与户籍信息不符，请带身份证到村委会核对')
  await box.getByRole('button', { name: '退回' }).click()
  await expect(cardB.locator('[data-test=reg-status-tag]')).toHaveText('已退回')
  await expect(cardB.locator('[data-test=reg-reason]')).toContainText('请带身份证到村委会核对')

  // The confirmed one is listed under 已确认.
  await page.locator('[data-test=reg-status]').getByText('已确认').click()
  await expect(page.locator(`[data-test=registration][data-id="${a}"]`)).toBeVisible()

  // An employed registrant (employee pension: 已转办, carried out by the employer) named their
  // employer; the reviewers see it with its credit code.
  const code = uniqueCreditCode()
  const c = await register(page, '测试登记丙', { employed: true, scheme: 'employee_pension', tier: null, employer_name: '测试登记丙所在单位', employer_credit_code: code })
  const at = await pageOf<{ id: number }>(page, await apiToken(page, 'zhenxing-admin'), '/api/v1/admin/registrations?status=referred', (r) => r.id === c, 20)
  await page.locator('[data-test=reg-status]').getByText('已转办').click()
  if (at.page > 1) await page.locator('[data-test=reg-pager] .el-pager li', { hasText: new RegExp(`^${at.page}$`) }).click()
  const cardC = page.locator(`[data-test=registration][data-id="${c}"]`)
  await expect(cardC.locator('[data-test=reg-status-tag]')).toHaveText('已转办')
  await expect(cardC.locator('[data-test=reg-employer]')).toContainText('测试登记丙所在单位')
  await expect(cardC.locator('[data-test=reg-employer]')).toContainText(code)
})
