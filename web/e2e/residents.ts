// Test data made through the API: residents registering in the mini-program (the dev server's
// WeChat stand-in logs any code in as a resident).
import { expect, type Page } from '@playwright/test'

// idNumber makes a valid 18-character ID number (GB 11643 check character).
export function idNumber(birth: string, seq: number): string {
  const body = `350583${birth}${String(seq % 1000).padStart(3, '0')}`
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  const sum = [...body].reduce((s, c, i) => s + Number(c) * w[i]!, 0)
  return body + '10X98765432'[sum % 11]!
}

let n = 0
// uniqueId is a valid ID number of someone born in the 1980s that no roster has (the demo
// roster's numbers come from another sequence range).
export function uniqueId(): string {
  n++
  const t = Date.now() + n * 7919
  const birth = `198${t % 10}${String(1 + (t % 12)).padStart(2, '0')}${String(10 + (t % 18)).padStart(2, '0')}`
  return idNumber(birth, t)
}

// register makes a resident-pension registration in zhenxing for someone not on the roster.
export async function register(page: Page, name: string): Promise<number> {
  const login = await page.request.post('/api/v1/auth/wechat', { data: { code: `e2e-${Date.now()}-${++n}` } })
  expect(login.status()).toBe(200)
  const { token } = (await login.json()) as { token: string }
  const tiers = (await (await page.request.get('/api/v1/tiers')).json()) as { tiers: { amount: number }[] }
  const r = await page.request.post('/api/v1/registrations', {
    headers: { Authorization: `Bearer ${token}` },
    data: {
      name,
      id_number: uniqueId(),
      phone: `1390000${String(Date.now() % 10000).padStart(4, '0')}`,
      village_code: 'zhenxing',
      employed: false,
      land_expropriated: false,
      scheme: 'resident_pension',
      tier: tiers.tiers[0]!.amount,
    },
  })
  expect(r.status(), await r.text()).toBe(201)
  return ((await r.json()) as { id: number }).id
}
