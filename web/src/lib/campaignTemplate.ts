// The checks the server makes on a campaign's message when it is saved, mirrored so that the
// editor can show them as the staff member types. Keep in step with campaigns/template.go
// (text, placeholders, WeChat keywords) and campaigns/channels/sms/template.go (SMS sign,
// template code, parameters); test/campaignTemplate.test.ts pins the cases. The server stays
// the judge: a 400 it answers is shown too.

export const PLACEHOLDERS = ['name', 'village', 'scheme', 'tier', 'deadline'] as const
export type Placeholder = (typeof PLACEHOLDERS)[number]
export type Vars = Record<Placeholder, string>

// The longest value each placeholder renders to (campaigns/template.go placeholderWidth).
export const PLACEHOLDER_WIDTH: Record<Placeholder, number> = { name: 10, village: 10, scheme: 12, tier: 4, deadline: 11 }

export const placeholderLabel: Record<Placeholder, string> = {
  name: '姓名',
  village: '村（居）',
  scheme: '推荐险种',
  tier: '最低缴费档次',
  deadline: '缴费截止日',
}

const PLACEHOLDER = /\{\{\s*([a-z_]+)\s*\}\}/g

// chars counts characters as Go's utf8.RuneCountInString does (code points).
export function chars(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

type Width = { n: number; used: string[]; error?: undefined } | { error: string }

// width is the longest rendered length of s, each placeholder at its widest.
export function width(s: string): Width {
  let n = chars(s)
  const used: string[] = []
  for (const m of s.matchAll(PLACEHOLDER)) {
    const name = m[1] ?? ''
    const w = (PLACEHOLDER_WIDTH as Record<string, number>)[name]
    if (w === undefined) {
      return { error: `未知的占位符 {{${name}}}，可用：{{name}} {{village}} {{scheme}} {{tier}} {{deadline}}` }
    }
    n += w - chars(m[0])
    used.push(name)
  }
  if (s.replace(PLACEHOLDER, '').includes('{{')) return { error: '占位符格式不正确，应为 {{name}} 这样的形式' }
  return { n, used }
}

// render fills the placeholders for one person.
export function render(s: string, v: Vars): string {
  return s.replace(PLACEHOLDER, (m, name: string) => (name in v ? v[name as Placeholder] : m))
}

// checkText: the message text used by visit_task and log (1 to 500 characters once rendered).
export function checkText(text: string): string | null {
  const w = width(text)
  if (w.error !== undefined) return w.error
  if (text.trim() === '' || w.n > 500) return '提醒内容须为 1 至 500 字'
  return null
}

// ---- WeChat subscribe messages ----

// Keyword types and their limits in characters (WeChat's subscribeMessage.send).
export const WECHAT_KINDS: Record<string, number> = {
  thing: 20,
  number: 32,
  letter: 32,
  symbol: 5,
  character_string: 32,
  time: 32,
  date: 32,
  amount: 32,
  phone_number: 17,
  car_number: 8,
  name: 10,
  phrase: 5,
}

export const wechatKindLabel: Record<string, string> = {
  thing: '事物',
  number: '数字',
  letter: '字母',
  symbol: '符号',
  character_string: '字符串',
  time: '时间',
  date: '日期',
  amount: '金额',
  phone_number: '电话',
  car_number: '车牌',
  name: '姓名',
  phrase: '汉字短语',
}

const WECHAT_KEY = /^([a-z_]+?)(\d+)$/
const TEMPLATE_ID = /^[A-Za-z0-9_-]{1,64}$/

export function wechatKind(key: string): string | null {
  return WECHAT_KEY.exec(key)?.[1] ?? null
}

export function checkWechatTemplateId(id: string): string | null {
  return TEMPLATE_ID.test(id) ? null : '模板 ID 须为 1 至 64 位字母、数字、下划线或短横线'
}

export function checkWechatPage(page: string): string | null {
  return new TextEncoder().encode(page).length > 256 ? '页面路径过长' : null
}

export function checkWechatDataCount(n: number): string | null {
  return n < 1 || n > 10 ? '请填写 1 至 10 个模板关键词' : null
}

// checkWechatKeyword checks one data entry: the keyword's name gives its type, the value must
// fit the type (placeholders counted at their widest).
export function checkWechatKeyword(key: string, value: string): string | null {
  const m = WECHAT_KEY.exec(key)
  if (!m) return '关键词名称应形如 thing1、time2'
  const kind = m[1] ?? ''
  const limit = WECHAT_KINDS[kind]
  if (limit === undefined) return `未知的关键词类型 ${kind}`
  const w = width(value)
  if (w.error !== undefined) return w.error
  if (w.n === 0 || w.n > limit) return `${kind} 类型的内容须为 1 至 ${limit} 个字符（占位符按最长计算）`
  const only = (p: string) => w.used.length === 1 && w.used[0] === p
  switch (kind) {
    case 'number':
    case 'amount': {
      const rest = value.replace(PLACEHOLDER, '')
      if (![...rest].every((c) => '0123456789.元'.includes(c)) || (w.used.length > 0 && !only('tier'))) {
        return `${kind} 类型只能填数字或 {{tier}}`
      }
      break
    }
    case 'date':
    case 'time':
      if (w.used.length > 0 && !only('deadline')) return `${kind} 类型只能填日期或 {{deadline}}`
      break
    case 'phrase':
    case 'symbol':
    case 'letter':
    case 'car_number':
    case 'phone_number':
    case 'character_string':
      if (w.used.length > 0) return `${kind} 类型不能使用占位符`
      break
  }
  return null
}

// ---- SMS ----

export const SMS_MAX_PARAMS = 10
export const SMS_MAX_PARAM_LEN = 35
const SMS_PLACEHOLDER_WIDTH = 10
const TEMPLATE_CODE = /^SMS_[0-9]{6,12}$/
const PARAM_NAME = /^[A-Za-z][A-Za-z0-9_]{0,19}$/
const HAN = /^\p{Script=Han}$/u
const ASCII_ALNUM = /^[A-Za-z0-9]$/

export function checkSignName(sign: string): string | null {
  const n = chars(sign)
  if (n < 2 || n > 12) return `短信签名须为 2 至 12 个字，现为 ${n} 个`
  for (const c of sign) {
    if (!HAN.test(c) && !ASCII_ALNUM.test(c)) return `短信签名只能包含汉字、字母和数字，不能包含 “${c}”`
  }
  return null
}

export function checkTemplateCode(code: string): string | null {
  return TEMPLATE_CODE.test(code) ? null : '短信模板编号须形如 SMS_123456789（SMS_ 后跟 6 至 12 位数字）'
}

export function checkSmsParamCount(n: number): string | null {
  return n > SMS_MAX_PARAMS ? `模板参数最多 ${SMS_MAX_PARAMS} 个，现有 ${n} 个` : null
}

// smsRenderedLen: each {{…}} counts as 10 characters (sms.renderedLen).
export function smsRenderedLen(v: string): number {
  let n = chars(v)
  for (const m of v.matchAll(/\{\{[^{}]*\}\}/g)) n += SMS_PLACEHOLDER_WIDTH - chars(m[0])
  return n
}

export function checkSmsParam(name: string, value: string): string | null {
  const bad = (reason: string) => `模板参数 "${name}" ${reason}`
  if (!PARAM_NAME.test(name)) return bad('名称不正确：须以字母开头，只含字母、数字和下划线，最长 20 个字符')
  if (value.trim() === '') return bad('的内容不能为空')
  if (/[【】]/.test(value)) return bad('的内容不能包含【】')
  const n = smsRenderedLen(value)
  if (n > SMS_MAX_PARAM_LEN) {
    return bad(`渲染后最长 ${n} 个字符，超过 ${SMS_MAX_PARAM_LEN} 个（每个占位符按 ${SMS_PLACEHOLDER_WIDTH} 个字符计算）`)
  }
  const w = width(value)
  return w.error ?? null
}
