// 入户走访: a volunteer logs visits with the phone offline; they wait in IndexedDB, the page says
// how many, and they go to the server as one batch when the network returns — each once.
import { test, expect, login, apiToken, onlyOn, shootAt } from './fixtures'

test('入户走访: three visits logged offline sync once when back online', async ({ page, watch, context }) => {
  void watch
  onlyOn('phone') // volunteers use phones
  await login(page, 'zhenxing-vol')
  await expect(page).toHaveURL(/\/console\/visits/) // a volunteer lands on 入户走访
  const tasks = page.locator('[data-test=task]')
  await expect(tasks.first()).toBeVisible()
  await expect(page.locator('[data-test=outbox-waiting]')).toHaveText('0')

  let posts = 0
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/api/v1/admin/visits')) posts++
  })

  await context.setOffline(true)
  await expect(page.locator('[data-test=network]')).toContainText('当前离线')
  const plan = [
    { outcome: 'not_home' as const },
    { outcome: 'considering' as const, reason: 'cannot_afford', note: '年底收了龙眼再交' },
    { outcome: 'refused' as const, reason: 'unwilling' },
  ]
  const residents: string[] = []
  for (const [i, v] of plan.entries()) {
    const card = tasks.first()
    residents.push((await card.getAttribute('data-resident')) ?? '')
    await card.locator('[data-test=log-visit]').click()
    const form = page.locator('.el-drawer')
    await expect(form).toBeVisible()
    await form.locator(`[data-test=outcome] [data-value=${v.outcome}]`).click()
    await expect(form.locator(`[data-test=outcome] [data-value=${v.outcome}]`)).toHaveClass(/is-checked/)
    if (v.reason) {
      await expect(form.locator('[data-test=reason]')).toContainText('缴不起费')
      await form.locator(`[data-test=reason] [data-value=${v.reason}]`).click()
    } else {
      await expect(form.locator('[data-test=reason]')).toHaveCount(0) // a reason only with refused/considering
    }
    if (v.note) await form.locator('textarea').fill(v.note)
    await form.locator('[data-test=visit-save]').click()
    await expect(form).toBeHidden()
    await expect(page.locator('[data-test=outbox-waiting]')).toHaveText(String(i + 1))
    await expect(page.locator(`[data-test=task][data-resident="${residents[i]}"]`)).toHaveCount(0)
  }
  expect(posts).toBe(0) // nothing left the phone
  await shootAt(page, 'visits', 375)

  const sent = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/api/v1/admin/visits'))
  await context.setOffline(false)
  const res = await sent
  expect(res.status()).toBe(201)
  expect(res.request().headers()['idempotency-key']).toMatch(/^visits-[0-9a-f]{64}$/)
  await expect(page.locator('[data-test=outbox-waiting]')).toHaveText('0')
  expect(posts).toBe(1) // one batch
  const batch = (await res.json()) as { items: { client_id: string; resident_id: number }[]; total: number }
  expect(batch.items.map((x) => String(x.resident_id))).toEqual(residents)
  const posted = batch.items.map((x) => x.client_id)

  // The server has each visit exactly once.
  const token = await apiToken(page, 'zhenxing-vol')
  for (const [i, id] of residents.entries()) {
    const r = await page.request.get(`/api/v1/admin/visits?resident_id=${id}&page_size=100`, { headers: { Authorization: `Bearer ${token}` } })
    expect(r.status()).toBe(200)
    const list = (await r.json()) as { items: { client_id: string; outcome: string; reason: string | null }[] }
    const mine = list.items.filter((x) => x.client_id === posted[i])
    expect(mine).toHaveLength(1)
    expect(mine[0]?.outcome).toBe(plan[i]?.outcome)
    expect(mine[0]?.reason).toBe(plan[i]?.reason ?? null)
  }

  // After a reload (still signed in through the refresh cookie) nothing waits.
  await page.reload()
  await expect(page.locator('[data-test=task]').first()).toBeVisible()
  await expect(page.locator('[data-test=outbox-waiting]')).toHaveText('0')
  await shootAt(page, 'visits', 1440, () => expect(page.locator('[data-test=task]').nth(3)).toBeVisible())
  await page.locator('[data-test=log-visit]').first().click()
  await page.locator('[data-test=outcome] [data-value=considering]').click()
  await expect(page.locator('[data-test=reason]')).toBeVisible()
  await shootAt(page, 'visits-form', 1440)
  await shootAt(page, 'visits-form', 375, () => expect(page.locator('[data-test=reason]')).toBeVisible())
})
