// 单位参保督查 (issue #14): staff find an employer whose employees on the roster are uninsured,
// refer it to labour inspection, follow the case referred → inspected → resolved, see a move or
// referral that someone else made first refused with a clear message (409), and export the open
// cases as XLSX with masked ID numbers; the admin may export full ones after confirming.
// Shapes as in api/openapi.yaml (Employer, ReferralCase; the cases list shows
// the open cases unless asked for status=all).
//
// Assumes the backend of issue #14 (internal/employer) is merged: the roster import reads
// 工作单位 and 统一社会信用代码, and the export's 未参保人员 sheet lists each open case's
// uninsured employees with their ID numbers (masked as the API masks them: first 4 and last 4).
// The test makes its own employers (codes no roster has) through the import; the 未知单位 row
// comes from the demo roster's employed people without an employer on record (the seed gives
// 80% of them one).
import { readFileSync } from 'node:fs'
import { test, expect, login, onlyOn, screenshotBoth, apiToken, password, type Page } from './fixtures'
import { importEmployees, pageOf, stamp, uniqueCreditCode, xlsxText, type Employee } from './outreach'

interface EmployerRow {
  credit_code: string | null
  case: { id: number; status: string } | null
}
interface ReferralCase {
  id: number
  credit_code: string
  status: string
}

// open goes to a console URL; after a full load the page may ask to log in again.
async function open(page: Page, path: string, user: string) {
  await page.goto(path)
  await expect(page.locator('input[name=username], [data-test=who]').first()).toBeVisible()
  if (page.url().includes('/login')) {
    await page.locator('input[name=username]').fill(user)
    await page.locator('input[name=password]').fill(password)
    await page.locator('[data-test=login-submit]').click()
  }
  await expect(page).toHaveURL(new RegExp(path.replace(/[?]/g, '\\?') + '$'))
}

const auth = (token: string) => ({ Authorization: `Bearer ${token}` })
const error = (page: Page, text: string | RegExp) => page.locator('.el-message--error', { hasText: text })

// masked is an ID number as the API masks it: the first 4 and last 4 characters.
const masked = (id: string) => `${id.slice(0, 4)}${'*'.repeat(10)}${id.slice(-4)}`

const a = { name: `督查测试甲公司${stamp()}`, code: uniqueCreditCode() }
const b = { name: `督查测试乙公司${stamp()}`, code: uniqueCreditCode() }

test('单位参保督查: refer an employer, move its case to the end, refusals are clear, export the open cases', async ({ page, watch }) => {
  void watch
  onlyOn('desktop')
  const admin = await apiToken(page, 'admin')
  const staff = await apiToken(page, 'staff')
  await importEmployees(page, admin, a, 3)
  const peopleB: Employee[] = await importEmployees(page, admin, b, 2)

  // The employer list, on the page that holds employer A (the list is the server's order).
  const atA = await pageOf<EmployerRow>(page, staff, '/api/v1/admin/employers', (e) => e.credit_code === a.code)
  expect(atA.item.case).toBeNull()
  await login(page, 'staff')
  // The roster shows the people with their employer (工作单位) and its code.
  const onRoster = await pageOf<{ employer_name: string | null }>(page, staff, '/api/v1/admin/residents?village=zhenxing&employed=true', (p) => p.employer_name === b.name)
  await open(page, `/console/roster?village=zhenxing&employed=true&page=${onRoster.page}&page_size=100`, 'staff')
  await expect(page.locator('[data-test=roster-list][data-loading=false]')).toHaveCount(1)
  const employeeRow = page.locator('[data-test=roster-table] .el-table__row', { hasText: b.name }).first()
  await expect(employeeRow.locator('[data-test=roster-employer]')).toHaveText(b.name)
  await expect(employeeRow.locator('[data-test=roster-employer]')).toHaveAttribute('title', new RegExp(b.code))

  await open(page, `/console/employers?page=${atA.page}&page_size=100`, 'staff')
  await expect(page.locator('[data-test=employer-list][data-loading=false]')).toHaveCount(1)
  const rowA = page.locator('[data-test=employer-table] .el-table__row', { hasText: a.code })
  await expect(rowA).toContainText(a.name)
  await expect(rowA).toContainText('振兴村')
  await expect(rowA.locator('td').nth(2)).toHaveText('3')

  // Refer A with the prefilled note.
  await rowA.locator('[data-test=employer-refer]').click()
  const dialog = page.locator('[data-test=refer-dialog]')
  await expect(dialog).toContainText(a.name)
  await expect(page.locator('[data-test=refer-note]').locator('textarea').or(page.locator('textarea[data-test=refer-note]'))).toHaveValue(/3 名在职人员/)
  await page.locator('[data-test=refer-confirm]').click()
  await expect(page.locator('.el-message--success', { hasText: '已将' })).toBeVisible()
  await expect(rowA.locator('[data-test=employer-case]')).toHaveAttribute('data-status', 'referred')
  await expect(rowA.locator('[data-test=employer-refer]')).toBeDisabled()
  // A second referral of the same employer is a conflict.
  const again = await page.request.post(`/api/v1/admin/employers/${a.code}/referrals`, { headers: auth(staff), data: { note: '重复移送' } })
  expect(again.status()).toBe(409)

  // Someone else refers B while this page still shows it without a case: the refusal says so,
  // and the list shows B's case after it reloads.
  const atB = await pageOf<EmployerRow>(page, staff, '/api/v1/admin/employers', (e) => e.credit_code === b.code)
  await open(page, `/console/employers?page=${atB.page}&page_size=100`, 'staff')
  await expect(page.locator('[data-test=employer-list][data-loading=false]')).toHaveCount(1)
  const rowB = page.locator('[data-test=employer-table] .el-table__row', { hasText: b.code })
  await expect(rowB.locator('[data-test=employer-refer]')).toBeEnabled()
  const first = await page.request.post(`/api/v1/admin/employers/${b.code}/referrals`, { headers: auth(staff), data: { note: '另一位干事先移送' } })
  expect(first.status()).toBe(201)
  watch.allow.push(/status of 409/)
  await rowB.locator('[data-test=employer-refer]').click()
  await page.locator('[data-test=refer-confirm]').click()
  await expect(error(page, '无法移送')).toBeVisible()
  await expect(rowB.locator('[data-test=employer-case]')).toHaveAttribute('data-status', 'referred')

  // The 未知单位 row: employed people without an employer on record; it cannot be referred.
  const atUnknown = await pageOf<EmployerRow>(page, staff, '/api/v1/admin/employers', (e) => e.credit_code === null)
  await open(page, `/console/employers?page=${atUnknown.page}&page_size=100`, 'staff')
  const unknown = page.locator('[data-test=employer-table] .el-table__row', { hasText: '未知单位' })
  await expect(unknown).toHaveCount(1)
  await expect(unknown.locator('[data-test=employer-refer]')).toHaveCount(0)
  await screenshotBoth(page, 'employers', () => expect(page.locator('[data-test=employer-list][data-loading=false]')).toHaveCount(1))

  // The cases: A moves to 已检查, then 已办结 with the number insured.
  const caseA = await pageOf<ReferralCase>(page, staff, '/api/v1/admin/referrals', (c) => c.credit_code === a.code, 20)
  const caseB = await pageOf<ReferralCase>(page, staff, '/api/v1/admin/referrals', (c) => c.credit_code === b.code, 20)
  await open(page, `/console/employers/referrals${caseA.page > 1 ? `?page=${caseA.page}` : ''}`, 'staff')
  await expect(page.locator('[data-test=referral-list][data-loading=false]')).toHaveCount(1)
  const caseRowA = page.locator('[data-test=referral-table] .el-table__row', { hasText: a.code })
  await expect(caseRowA.locator('[data-test=referral-status]')).toHaveAttribute('data-status', 'referred')
  await expect(caseRowA.locator('[data-move]')).toHaveText(['登记检查结果'])
  await caseRowA.locator('[data-move=inspected]').click()
  await page.locator('[data-test=move-confirm]').click() // no note yet: refused before it is sent
  await expect(page.locator('[data-test=move-dialog]')).toContainText('请填写情况说明')
  await page.locator('[data-test=move-note] textarea, textarea[data-test=move-note]').first().fill('已到单位检查，责令限期为 3 名职工办理参保')
  await page.locator('[data-test=move-confirm]').click()
  await expect(caseRowA.locator('[data-test=referral-status]')).toHaveAttribute('data-status', 'inspected')
  await caseRowA.locator('[data-move=resolved]').click()
  await page.locator('[data-test=move-note] textarea, textarea[data-test=move-note]').first().fill('单位已为职工补办参保登记')
  await page.locator('[data-test=move-insured] input').fill('3')
  await page.locator('[data-test=move-confirm]').click()
  // Resolved, the case leaves the open cases (the list's default) and shows under 全部.
  await expect(page.locator('.el-message--success', { hasText: '已办结' })).toBeVisible()
  await expect(caseRowA).toHaveCount(0)
  const allA = await pageOf<ReferralCase>(page, staff, '/api/v1/admin/referrals?status=all', (c) => c.credit_code === a.code, 20)
  expect(allA.item.status).toBe('resolved')
  await open(page, `/console/employers/referrals?status=all${allA.page > 1 ? `&page=${allA.page}` : ''}`, 'staff')
  await expect(page.locator('[data-test=referral-list][data-loading=false]')).toHaveCount(1)
  await expect(caseRowA.locator('[data-test=referral-status]')).toHaveAttribute('data-status', 'resolved')
  await expect(caseRowA.locator('[data-test=referral-insured]')).toHaveText('3')
  await expect(caseRowA).toContainText('单位已为职工补办参保登记')
  await expect(caseRowA.locator('[data-move]')).toHaveCount(0)
  // A resolved case moves no more.
  const back = await page.request.patch(`/api/v1/admin/referrals/${caseA.item.id}`, { headers: auth(staff), data: { status: 'inspected', note: '再检查' } })
  expect(back.status()).toBe(409)

  // B is moved by someone else while this page shows it 已移送: the move is refused in words.
  await open(page, `/console/employers/referrals${caseB.page > 1 ? `?page=${caseB.page}` : ''}`, 'staff')
  const caseRowB = page.locator('[data-test=referral-table] .el-table__row', { hasText: b.code })
  await expect(caseRowB.locator('[data-test=referral-status]')).toHaveAttribute('data-status', 'referred')
  const moved = await page.request.patch(`/api/v1/admin/referrals/${caseB.item.id}`, { headers: auth(staff), data: { status: 'inspected', note: '另一位干事已登记' } })
  expect(moved.status()).toBe(200)
  await caseRowB.locator('[data-move=inspected]').click()
  await page.locator('[data-test=move-note] textarea, textarea[data-test=move-note]').first().fill('已检查')
  await page.locator('[data-test=move-confirm]').click()
  await expect(error(page, '无法登记检查结果')).toBeVisible()
  await expect(caseRowB.locator('[data-test=referral-status]')).toHaveAttribute('data-status', 'inspected')
  await screenshotBoth(page, 'referrals', () => expect(page.locator('[data-test=referral-list][data-loading=false]')).toHaveCount(1))

  // The export: open cases only (B, not the resolved A), ID numbers masked for staff.
  await expect(page.locator('[data-test=referrals-export-full]')).toHaveCount(0)
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test=referrals-export]').click()])
  expect(dl.suggestedFilename()).toMatch(/\.xlsx$/)
  const text = xlsxText(readFileSync(await dl.path()))
  expect(text).toContain(b.code)
  expect(text).not.toContain(a.code)
  for (const p of peopleB) {
    expect(text).not.toContain(p.id)
    expect(text).toContain(masked(p.id))
  }
})

test('单位参保督查: the admin exports the open cases with full ID numbers after confirming it is audited', async ({ page, watch }) => {
  void watch
  onlyOn('desktop')
  const admin = await apiToken(page, 'admin')
  const c = { name: `督查测试丙公司${stamp()}`, code: uniqueCreditCode() }
  const people = await importEmployees(page, admin, c, 1)
  const r = await page.request.post(`/api/v1/admin/employers/${c.code}/referrals`, { headers: auth(admin), data: { note: '移送' } })
  expect(r.status()).toBe(201)

  await login(page, 'admin')
  await open(page, '/console/employers/referrals', 'admin')
  await expect(page.locator('[data-test=referral-list][data-loading=false]')).toHaveCount(1)
  // Cancelling the confirmation downloads nothing.
  await page.locator('[data-test=referrals-export-full]').click()
  const box = page.locator('.el-message-box')
  await expect(box).toContainText('审计')
  await box.getByRole('button', { name: '取消' }).click()
  await expect(box).toBeHidden()
  const [dl] = await Promise.all([
    page.waitForEvent('download'),
    (async () => {
      await page.locator('[data-test=referrals-export-full]').click()
      await box.getByRole('button', { name: '确定导出' }).click()
    })(),
  ])
  const text = xlsxText(readFileSync(await dl.path()))
  expect(text).toContain(c.code)
  expect(text).toContain(people[0]!.id)
  // Without the choice the admin's export is masked too.
  const [plain] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test=referrals-export]').click()])
  const maskedText = xlsxText(readFileSync(await plain.path()))
  expect(maskedText).toContain(c.code)
  expect(maskedText).not.toContain(people[0]!.id)
  expect(maskedText).toContain(masked(people[0]!.id))
})
