// Helpers of the issue #14 browser tests (events.spec.ts, referrals.spec.ts): test data made
// through the API, finding a row's page in a paged list, and reading the text of an XLSX.
import { inflateRawSync } from 'node:zlib'
import { expect, type Page } from '@playwright/test'
import { makeCreditCode } from '../src/lib/creditCode'
import { uniqueId } from './residents'

const worker = Number(process.env.TEST_WORKER_INDEX ?? 0) % 100
let n = 0

// beijing writes a moment as the date pickers' text, YYYY-MM-DD HH:mm in Asia/Shanghai.
export function beijing(d: Date): string {
  return new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 16).replace('T', ' ')
}

// stamp is a short suffix no other test of the run (or earlier run on the server) has.
export function stamp(): string {
  n++
  return `${String(Date.now() % 1e7).padStart(7, '0')}${worker}${n}`
}

// uniqueCreditCode is a valid 统一社会信用代码 (both check characters) that no roster has: its
// organisation body comes from the clock, the worker and a counter.
export function uniqueCreditCode(): string {
  n++
  const body = String((Math.floor(Date.now() / 10) * 100 + worker * 10 + (n % 10)) % 1e8).padStart(8, '0')
  return makeCreditCode('350583', body)
}

// residentToken logs a resident in through the dev server's WeChat stand-in.
export async function residentToken(page: Page): Promise<string> {
  const r = await page.request.post('/api/v1/auth/wechat', { data: { code: `e2e-event-${stamp()}` } })
  expect(r.status()).toBe(200)
  return ((await r.json()) as { token: string }).token
}

export interface Employee {
  id: string
  name: string
}

// importEmployees imports people employed by an employer (工作单位, 统一社会信用代码), employed
// and uninsured, living in 振兴村, through the roster import (admin), and waits until it is done.
export async function importEmployees(page: Page, admin: string, employer: { name: string; code: string }, count: number): Promise<Employee[]> {
  const people: Employee[] = []
  const lines = ['身份证号码,姓名,性别,手机号码,村居,是否就业,是否被征地农民,参保状态,工作单位,统一社会信用代码']
  for (let i = 0; i < count; i++) {
    const id = uniqueId()
    const name = `督查职工${String.fromCharCode(0x7532 + i)}` // 甲, 申, ...: any Chinese name
    people.push({ id, name })
    lines.push(`${id},${name},${Number(id[16]) % 2 ? '男' : '女'},,振兴村,是,否,未参保,${employer.name},${employer.code}`)
  }
  const r = await page.request.post('/api/v1/admin/imports', {
    headers: { Authorization: `Bearer ${admin}` },
    multipart: { file: { name: `employees-${stamp()}.csv`, mimeType: 'text/csv', buffer: Buffer.from(lines.join('\r\n')) } },
  })
  expect(r.status(), await r.text()).toBe(202)
  const { id } = (await r.json()) as { id: number }
  await expect
    .poll(
      async () => {
        const s = await page.request.get(`/api/v1/admin/imports/${id}`, { headers: { Authorization: `Bearer ${admin}` } })
        const b = (await s.json()) as { status: string; rows_failed: number; errors: unknown[] }
        return b.status === 'completed' || b.status === 'failed' ? `${b.status} ${b.rows_failed} failed ${JSON.stringify(b.errors)}` : b.status
      },
      { message: 'the employees import finishes', timeout: 60_000 },
    )
    .toBe('completed 0 failed []')
  return people
}

// pageOf asks a paged list route, 100 a page, for the page holding the first item that matches;
// the page then opens with ?page=P&page_size=100 (or ?page=P where the page size is fixed).
export async function pageOf<T>(page: Page, token: string, url: string, match: (item: T) => boolean, pageSize = 100): Promise<{ page: number; item: T }> {
  for (let p = 1; p <= 1000; p++) {
    const sep = url.includes('?') ? '&' : '?'
    const r = await page.request.get(`${url}${sep}page=${p}&page_size=${pageSize}`, { headers: { Authorization: `Bearer ${token}` } })
    expect(r.status(), `${url} page ${p}`).toBe(200)
    const body = (await r.json()) as { items: T[]; total: number }
    const item = body.items.find(match)
    if (item) return { page: p, item }
    if (p * pageSize >= body.total || body.items.length === 0) break
  }
  throw new Error(`${url}: no item matches`)
}

// xlsxText is the text of every XML part of an XLSX (a zip): enough to ask whether a value is
// in the workbook, as a shared string or inline.
export function xlsxText(buf: Buffer): string {
  expect(buf.subarray(0, 2).toString()).toBe('PK')
  // The end of central directory record: the central directory's size and offset.
  let eocd = -1
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i
      break
    }
  }
  expect(eocd, 'zip end of central directory').toBeGreaterThanOrEqual(0)
  const entries = buf.readUInt16LE(eocd + 10)
  let at = buf.readUInt32LE(eocd + 16)
  let text = ''
  for (let e = 0; e < entries; e++) {
    const method = buf.readUInt16LE(at + 10)
    const size = buf.readUInt32LE(at + 20)
    const nameLen = buf.readUInt16LE(at + 28)
    const extraLen = buf.readUInt16LE(at + 30)
    const commentLen = buf.readUInt16LE(at + 32)
    const local = buf.readUInt32LE(at + 42)
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString()
    at += 46 + nameLen + extraLen + commentLen
    if (!name.endsWith('.xml')) continue
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28)
    const raw = buf.subarray(start, start + size)
    text += (method === 8 ? inflateRawSync(raw) : raw).toString('utf8')
  }
  return text
}
