import { test, expect, login, screenshot, width, type Page } from './fixtures'

// The engine runs beside the server (run.sh): a campaign on the log channel sends to its
// audience without WeChat or SMS, so the counters move.

async function pickOption(page: Page, testId: string, option: string) {
  await page.locator(`[data-test=${testId}]`).click()
  await page.locator('.el-select-dropdown__item:visible', { hasText: option }).first().click()
  await page.keyboard.press('Escape')
}

// input: an el-input puts its data-test on the native input, an el-input-number on its frame.
const input = (page: Page, testId: string) => page.locator(`input[data-test=${testId}], [data-test=${testId}] input`).first()
const value = (page: Page, stat: string) => page.locator(`[data-test=stat-${stat}] [data-test=stat-value]`)

test('宣传活动: build a campaign in the wizard, schedule it, watch its counters move', async ({ page, watch }, info) => {
  void watch
  const phone = info.project.name === 'phone'
  const w = width(page)
  await login(page, 'staff')
  await page.locator(`${phone ? '.bottom-nav' : '.side'} [data-menu=campaigns]`).click()
  await expect(page).toHaveURL(/\/console\/campaigns$/)
  await expect(page.locator('[data-test=campaign-list][data-loading=false]')).toHaveCount(1)

  // 1 目标人群: the live count follows the segment.
  await page.locator('[data-test=campaign-new]').click()
  await expect(page).toHaveURL(/\/console\/campaigns\/new$/)
  const name = `振兴村女性提醒 ${w} ${Date.now() % 100000}`
  await input(page, 'campaign-name').fill(name)
  const count = page.locator('[data-test=audience-count]')
  const audience = page.locator('[data-test=audience][data-state=ready]')
  await expect(audience).toHaveCount(1)
  await expect(count).toHaveText(/^[\d,]+$/)
  const town = Number((await count.textContent())!.replace(/,/g, ''))
  await expect(page.locator('[data-test=audience-excluded]')).toContainText('不在 16-59 周岁之间')
  await pickOption(page, 'seg-villages', '振兴村')
  await page.locator('[data-test=seg-gender]').getByText('女').click()
  await page.locator('[data-test=seg-age-min] input').fill('30')
  await page.locator('[data-test=seg-age-max] input').fill('45')
  await page.locator('[data-test=seg-age-max] input').blur()
  await expect(page.locator('[data-test=audience] .chip')).toHaveCount(1)
  await expect(page.locator('[data-test=audience] .chip')).toContainText('振兴村')
  await expect(audience).toHaveCount(1)
  const few = Number((await count.textContent())!.replace(/,/g, ''))
  expect(few).toBeGreaterThan(0)
  expect(few).toBeLessThan(town)
  await screenshot(page, 'campaign-wizard-segment', w)

  // 2 发送渠道: the log channel first, SMS behind it.
  await page.locator('[data-test=wizard-next]').click()
  const chain = page.locator('[data-test=chain] .chain-item')
  await chain.filter({ hasText: '微信订阅消息' }).locator('[data-test=chain-remove]').click()
  await chain.filter({ hasText: '入户走访任务' }).locator('[data-test=chain-remove]').click()
  await page.locator('[data-add=log]').click()
  await chain.filter({ hasText: '仅记录' }).getByRole('button', { name: '上移' }).click()
  await expect(chain).toHaveText([/仅记录/, /短信/])
  await screenshot(page, 'campaign-wizard-channels', w)

  // 3 消息内容: an SMS template code is checked as it is typed; saving waits for a good one.
  await page.locator('[data-test=wizard-next]').click()
  const code = input(page, 'tpl-sms-code')
  const codeItem = page.locator('[data-test=tpl-sms-code-item]')
  await code.fill('SMS_12')
  await expect(codeItem.locator('.el-form-item__error')).toHaveText(/SMS_ 后跟 6 至 12 位数字/)
  await expect(page.locator('[data-test=wizard-save]')).toBeDisabled()
  await expect(page.locator('[data-test=wizard-next]')).toBeDisabled()
  await code.pressSequentially('3456789')
  await expect(codeItem.locator('.el-form-item__error')).toHaveCount(0)
  await expect(page.locator('[data-test=wizard-save]')).toBeEnabled()
  await expect(page.locator('[data-test=tpl-preview-text]')).toContainText('张三您好，振兴村提醒您')
  await screenshot(page, 'campaign-wizard-template', w)

  // 4 发送安排: all day, so that the test passes at any hour; SMS is in the chain, so the rate
  // may be at most the SMS channel's limit (3,000 a minute by default).
  await page.locator('[data-test=wizard-next]').click()
  await input(page, 'sched-from').fill('00:00')
  await input(page, 'sched-to').fill('23:59')
  await input(page, 'sched-rate').fill('3000')
  await screenshot(page, 'campaign-wizard-schedule', w)

  // Saved as a draft, then scheduled from its page; the counters move by themselves.
  await page.locator('[data-test=wizard-save]').click()
  await expect(page).toHaveURL(/\/console\/campaigns\/\d+$/)
  const id = /campaigns\/(\d+)$/.exec(page.url())![1]
  await expect(page.locator('[data-test=campaign-status]')).toHaveAttribute('data-status', 'draft')
  await expect(page.locator('[data-test=live]')).toContainText('草稿尚未安排发送')
  await page.locator('[data-action=schedule]').click()
  await page.locator('.el-message-box__btns .el-button--primary').click()
  await expect(page.locator('[data-test=live][data-polling=true]')).toHaveCount(1)
  await expect(value(page, 'sent')).not.toHaveText('0')
  await expect(value(page, 'targeted')).toHaveText(String(few))
  await expect(page.locator('[data-test=campaign-status]')).toHaveAttribute('data-status', 'completed')
  await expect(page.locator('[data-test=live][data-polling=false]')).toHaveText(/已停止自动更新/)
  await expect(page.locator('[data-test=by-channel]')).toContainText('仅记录')
  await expect(page.locator('[data-test=by-village] canvas')).toHaveCount(1)
  await expect(page.locator('[data-action=retry-failed]')).toBeVisible()
  await expect(page.locator('[data-action=pause]')).toHaveCount(0)
  await screenshot(page, 'campaign-detail', w)

  // The list shows it completed, with only the action a completed campaign allows.
  await page.getByRole('button', { name: '‹ 活动列表' }).click()
  await expect(page.locator('[data-test=campaign-list][data-loading=false]')).toHaveCount(1)
  const row = page.locator(phone ? '[data-test=campaign-card]' : '[data-test=campaign-table] .el-table__row', { hasText: name })
  await expect(row.locator('[data-test=campaign-status]')).toHaveText('已完成')
  await expect(row.locator('[data-action]')).toHaveText(['重发失败'])
  await screenshot(page, 'campaigns', w)

  // A deep link opens the campaign (after logging in again while the session is in memory).
  await page.goto(`/console/campaigns/${id}`)
  await expect(page.locator('input[name=username], [data-test=campaign-name]').first()).toBeVisible()
  if (page.url().includes('/login')) {
    await page.locator('input[name=username]').fill('staff')
    await page.locator('input[name=password]').fill(process.env.E2E_PASSWORD ?? '')
    await page.locator('[data-test=login-submit]').click()
  }
  await expect(page).toHaveURL(new RegExp(`/console/campaigns/${id}$`))
  await expect(page.locator('[data-test=campaign-name]')).toHaveText(name)
})

test('宣传活动: the demo’s completed campaign charts sent and converted per day from the server, after a reload too', async ({ page, watch }, info) => {
  void watch
  const phone = info.project.name === 'phone'
  const w = width(page)
  await login(page, 'staff')
  await page.locator(`${phone ? '.bottom-nav' : '.side'} [data-menu=campaigns]`).click()
  await expect(page.locator('[data-test=campaign-list][data-loading=false]')).toHaveCount(1)
  const row = page.locator(phone ? '[data-test=campaign-card]' : '[data-test=campaign-table] .el-table__row', { hasText: '春季参保动员提醒（示例）' })
  await expect(row.locator('[data-test=campaign-status]')).toHaveText('已完成')
  await (phone ? row : row.locator('a.name')).click()
  await expect(page).toHaveURL(/\/console\/campaigns\/\d+$/)
  await expect(page.locator('[data-test=campaign-status]')).toHaveAttribute('data-status', 'completed')

  // A reload starts from nothing in the browser: the chart comes from the stats answer.
  const answer = page.waitForResponse((r) => /\/api\/v1\/admin\/campaigns\/\d+\/stats$/.test(r.url()) && r.request().method() === 'GET')
  await page.reload()
  if (page.url().includes('/login')) {
    await page.locator('input[name=username]').fill('staff')
    await page.locator('input[name=password]').fill(process.env.E2E_PASSWORD ?? '')
    await page.locator('[data-test=login-submit]').click()
  }
  const stats = (await (await answer).json()) as { sent: number; converted: number; by_day: Record<string, number>; converted_by_day: Record<string, number> }
  const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0)
  expect(stats.converted).toBeGreaterThan(0)
  expect(Object.keys(stats.converted_by_day).length).toBeGreaterThan(1)
  expect(sum(stats.converted_by_day)).toBe(stats.converted)
  expect(sum(stats.by_day)).toBe(stats.sent)

  const trend = page.locator('[data-test=trend]')
  await expect(trend).toBeVisible()
  await expect(trend.locator('h2')).toHaveText('转化趋势')
  await expect(trend.locator('canvas')).toHaveCount(1)
  await expect(value(page, 'converted')).toHaveText(stats.converted.toLocaleString('zh-CN'))
  await expect(trend).toHaveAttribute('data-converted-total', String(stats.converted))
  await expect(trend).toHaveAttribute('data-sent-total', String(stats.sent))
  const counter = Number((await value(page, 'converted').textContent())!.replace(/,/g, ''))
  expect(Number(await trend.getAttribute('data-converted-total'))).toBe(counter)
  await trend.scrollIntoViewIfNeeded()
  await screenshot(page, 'campaign-trend', w)
})
