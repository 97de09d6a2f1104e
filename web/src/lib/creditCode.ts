// 统一社会信用代码 (GB 32100-2015): 18 characters from 31 (digits and capitals without I, O, S,
// V, Z); the 18th is a check character over the first 17 (weights 3^i mod 31). Characters 9-17
// are the organisation code (GB 11714), whose 9th character checks its first 8. The server is
// the judge; the console checks as one types so that a typo is caught before the request.

const CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY'
const WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]

// creditCheckChar is the check character of the first 17 characters, or '' if one is not allowed.
export function creditCheckChar(first17: string): string {
  if (first17.length !== 17) return ''
  let sum = 0
  for (let i = 0; i < 17; i++) {
    const v = CHARS.indexOf(first17[i]!)
    if (v < 0) return ''
    sum += v * WEIGHTS[i]!
  }
  return CHARS[(31 - (sum % 31)) % 31]!
}

// orgCheckChar is the GB 11714 check character of an organisation code's first 8 characters.
export function orgCheckChar(first8: string): string {
  if (!/^[0-9A-Z]{8}$/.test(first8)) return ''
  let sum = 0
  for (let i = 0; i < 8; i++) {
    const c = first8[i]!
    const v = c >= '0' && c <= '9' ? Number(c) : c.charCodeAt(0) - 55
    sum += v * ORG_WEIGHTS[i]!
  }
  const r = 11 - (sum % 11)
  return r === 10 ? 'X' : r === 11 ? '0' : String(r)
}

// normalizeCreditCode trims and upper-cases what was typed or pasted (full-width spaces too).
export function normalizeCreditCode(s: string): string {
  return s.replace(/[\s\u3000]/g, '').toUpperCase()
}

// creditCodeError says in Chinese what is wrong with a code, or '' when it is valid.
export function creditCodeError(raw: string): string {
  const s = normalizeCreditCode(raw)
  if (s.length !== 18) return '统一社会信用代码应为 18 位'
  for (const c of s) if (!CHARS.includes(c)) return `统一社会信用代码不能含有“${c}”`
  if (creditCheckChar(s.slice(0, 17)) !== s[17]) return '统一社会信用代码校验位不正确'
  return ''
}

// makeCreditCode builds a valid code from a 6-digit area and an 8-digit organisation body
// (both check characters computed); the browser tests make their own employers with it.
export function makeCreditCode(area: string, orgBody: string, prefix = '91'): string {
  const org = orgBody + orgCheckChar(orgBody)
  const first17 = `${prefix}${area}${org}`
  return first17 + creditCheckChar(first17)
}
