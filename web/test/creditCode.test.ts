import { describe, expect, it } from 'vitest'
import { creditCheckChar, creditCodeError, makeCreditCode, normalizeCreditCode, orgCheckChar } from '../src/lib/creditCode'

// Published codes of real organisations (both check characters hold).
const real = ['91350100M000100Y43', '91110000600037341L', '914403001922038216', '91310000775785552L']

describe('统一社会信用代码 (GB 32100-2015)', () => {
  it('accepts published codes and computes both check characters', () => {
    for (const c of real) {
      expect(creditCodeError(c), c).toBe('')
      expect(creditCheckChar(c.slice(0, 17))).toBe(c[17])
      expect(orgCheckChar(c.slice(8, 16))).toBe(c[16])
    }
  })

  it('refuses every wrong check character, with the reason in Chinese', () => {
    const c = real[0]!
    const chars = '0123456789ABCDEFGHJKLMNPQRTUWXY'
    let refused = 0
    for (const x of chars) {
      if (x === c[17]) continue
      expect(creditCodeError(c.slice(0, 17) + x)).toBe('统一社会信用代码校验位不正确')
      refused++
    }
    expect(refused).toBe(30)
  })

  it('refuses a wrong length and letters outside the set (I, O, S, V, Z)', () => {
    expect(creditCodeError('')).toBe('统一社会信用代码应为 18 位')
    expect(creditCodeError('91350100M000100Y4')).toBe('统一社会信用代码应为 18 位')
    expect(creditCodeError('91350100M000100Y431')).toBe('统一社会信用代码应为 18 位')
    expect(creditCodeError('91350100O000100Y43')).toBe('统一社会信用代码不能含有“O”')
    expect(creditCodeError('9135010SM000100Y43')).toBe('统一社会信用代码不能含有“S”')
    expect(creditCheckChar('9135010IM000100Y4')).toBe('')
  })

  it('normalises what is typed or pasted: spaces (full-width too) and lower case', () => {
    expect(normalizeCreditCode(' 9135 0100m000100y43\u3000')).toBe('91350100M000100Y43')
    expect(creditCodeError('91350100m000100y43')).toBe('')
  })

  it('makes valid codes from an area and an organisation body', () => {
    for (const body of ['00000000', '12345678', '99999999', '31415926', '27182818']) {
      const c = makeCreditCode('350583', body)
      expect(c).toHaveLength(18)
      expect(c.slice(0, 8)).toBe('91350583')
      expect(creditCodeError(c), c).toBe('')
      expect(orgCheckChar(c.slice(8, 16))).toBe(c[16])
    }
  })

  it('gives the organisation code its X and 0 check characters', () => {
    // 11 - (sum mod 11) = 10 → X, = 11 → 0; find bodies for both among a few candidates.
    const checks = new Set<string>()
    for (let i = 0; i < 200; i++) checks.add(orgCheckChar(String(10_000_000 + i * 7919).slice(0, 8)))
    expect(checks.has('X')).toBe(true)
    expect(checks.has('0')).toBe(true)
    expect(orgCheckChar('1234567')).toBe('')
  })
})
