// Test data made through the API: residents registering in the mini-program (the dev server's
// WeChat stand-in logs any code in as a resident).
import { expect, type Page } from '@playwright/test'

// idNumber makes a valid 18-character ID number (GB 11643 check character) in an area.
export function idNumber(birth: string, seq: number, area = '350583'): string {
  const body = `${area}${birth}${String(seq % 1000).padStart(3, '0')}`
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  const sum = [...body].reduce((s, c, i) => s + Number(c) * w[i]!, 0)
  return body + '10X98765432'[sum % 11]!
}

// The spec files run in parallel worker processes, each with its own counter: the worker's
// index (unique within a run) is part of every number and phone made here, so no two tests
// ever make the same person.
const worker = Number(process.env.TEST_WORKER_INDEX ?? 0) % 100
const start = Math.floor(Date.now() / 1000) // another run against the same server gets other days
let n = 0

// uniqueId is a valid ID number of a man born in the 1980s that no roster has: its area,
// 350524 (安溪县), is not the demo roster's 350583 (南安市). Men only, so that the people the
// tests make never enter the 宣传活动 test's segment (women in 振兴村), whose audience count
// must not change while it runs. The sequence code is the worker's and odd (male).
export function uniqueId(): string {
  n++
  const day = new Date(Date.UTC(1980, 0, 1) + ((start + Math.floor(n / 5)) % 3650) * 86_400_000)
  const birth = day.toISOString().slice(0, 10).replace(/-/g, '')
  return idNumber(birth, worker * 10 + 2 * (n % 5) + 1, '350524')
}

// uniquePhone is a mobile number no other test of the run uses.
function uniquePhone(): string {
  n++
  return `139${String(worker).padStart(2, '0')}${String((start + n) % 1_000_000).padStart(6, '0')}`
}

// register makes a resident-pension registration in zhenxing for someone not on the roster;
// fields of extra replace or add to the request's.
export async function register(page: Page, name: string, extra: Record<string, unknown> = {}): Promise<number> {
  const login = await page.request.post('/api/v1/auth/wechat', { data: { code: `e2e-${start}-${worker}-${++n}` } })
  expect(login.status()).toBe(200)
  const { token } = (await login.json()) as { token: string }
  const tiers = (await (await page.request.get('/api/v1/tiers')).json()) as { tiers: { amount: number }[] }
  const r = await page.request.post('/api/v1/registrations', {
    headers: { Authorization: `Bearer ${token}` },
    data: {
      name,
      id_number: uniqueId(),
      phone: uniquePhone(),
      village_code: 'zhenxing',
      employed: false,
      land_expropriated: false,
      scheme: 'resident_pension',
      tier: tiers.tiers[0]!.amount,
      ...extra,
    },
  })
  expect(r.status(), await r.text()).toBe(201)
  return ((await r.json()) as { id: number }).id
}
