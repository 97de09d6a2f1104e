// Cookie sessions: the refresh token lives in an HttpOnly cookie that page scripts never see; the
// access token in memory only. A reload trades the cookie for a new access token; logging out
// ends it.
//
// Logging out revokes every token of the account, so the test logs in as a 宣传干事 account of
// its own: the demo's `staff`, whom other tests use at the same time, keeps its sessions.
import { test, expect, login, apiToken, password } from './fixtures'

test('a reload keeps the staff member signed in; scripts never see the refresh token', async ({ page, watch, context }, info) => {
  void watch
  test.skip(info.project.name !== 'desktop', 'the session does not depend on the viewport')
  const username = `e2e-session-${Date.now() % 1000000}`
  const admin = await apiToken(page, 'admin')
  const made = await page.request.post('/api/v1/admin/users', {
    headers: { Authorization: `Bearer ${admin}` },
    data: { username, password, role: 'staff' },
  })
  expect(made.status(), await made.text()).toBe(201)
  await login(page, username)
  await expect(page.locator('[data-test=who]')).toContainText(username)

  await page.reload()
  await expect(page).toHaveURL(/\/console\/dashboard/)
  await expect(page.locator('[data-test=who]')).toContainText(`${username} · 宣传干事`)
  await expect(page.locator('[data-test=progress-table] .el-table__row').first()).toBeVisible()

  const cookies = await context.cookies()
  const refresh = cookies.find((c) => c.name === 'canbao_refresh')
  expect(refresh, 'the refresh cookie is set').toBeTruthy()
  expect(refresh?.httpOnly).toBe(true)
  expect(refresh?.sameSite).toBe('Strict')
  expect(refresh?.path).toBe('/api/v1/auth/refresh')
  expect(await page.evaluate(() => document.cookie)).not.toContain('canbao_refresh')
  expect(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))).toBe('{}{}')

  // Logging out ends the session for good: a reload lands on 登录.
  await page.locator('[data-test=logout]').click()
  await expect(page).toHaveURL(/\/console\/login/)
  await page.goto('/console/dashboard')
  await expect(page).toHaveURL(/\/console\/login/)
})
