// The editor's checks must say what the server says (campaigns/template.go and
// campaigns/channels/sms/template.go, whose tests these cases follow).
import { describe, expect, it } from 'vitest'
import {
  checkSignName,
  checkSmsParam,
  checkSmsParamCount,
  checkTemplateCode,
  checkText,
  checkWechatKeyword,
  checkWechatTemplateId,
  render,
  width,
} from '../src/lib/campaignTemplate'

describe('text and placeholders', () => {
  it('counts placeholders at their widest', () => {
    expect(width('{{name}}您好')).toEqual({ n: 12, used: ['name'] })
    expect(width('{{ deadline }}')).toEqual({ n: 11, used: ['deadline'] })
  })
  it('refuses unknown or broken placeholders', () => {
    expect(checkText('{{phone}}')).toMatch(/未知的占位符 \{\{phone\}\}/)
    expect(checkText('{{name}')).toMatch(/占位符格式不正确/)
    expect(checkText('{{Name}}')).toMatch(/占位符格式不正确/)
  })
  it('needs 1 to 500 characters', () => {
    expect(checkText('  ')).toBe('提醒内容须为 1 至 500 字')
    expect(checkText('字'.repeat(500))).toBeNull()
    expect(checkText('字'.repeat(495) + '{{name}}')).toBe('提醒内容须为 1 至 500 字')
  })
  it('renders for one person', () => {
    const v = { name: '张三', village: '振兴村', scheme: '城乡居民养老保险', tier: '200', deadline: '2026-12-31' }
    expect(render('{{name}}，{{ village }}，{{tier}}元，{{deadline}}前，{{x}}', v)).toBe('张三，振兴村，200元，2026-12-31前，{{x}}')
  })
})

describe('WeChat keywords', () => {
  it('checks the keyword name and type', () => {
    expect(checkWechatKeyword('foo', 'x')).toBe('关键词名称应形如 thing1、time2')
    expect(checkWechatKeyword('colour1', 'x')).toBe('未知的关键词类型 colour')
    expect(checkWechatKeyword('character_string3', 'A1')).toBeNull()
  })
  it('thing: at most 20 characters, placeholders at their widest', () => {
    expect(checkWechatKeyword('thing1', '字'.repeat(20))).toBeNull()
    expect(checkWechatKeyword('thing1', '字'.repeat(21))).toMatch(/thing 类型的内容须为 1 至 20 个字符/)
    expect(checkWechatKeyword('thing1', '{{name}}您好请尽快参保呀呀呀')).toBeNull() // 10 + 10
    expect(checkWechatKeyword('thing1', '{{name}}您好请尽快参保呀呀呀呀')).toMatch(/1 至 20/) // 10 + 11 = 21
    expect(checkWechatKeyword('thing1', '')).toMatch(/1 至 20/)
  })
  it('phrase: at most 5, no placeholders', () => {
    expect(checkWechatKeyword('phrase3', '待参保')).toBeNull()
    expect(checkWechatKeyword('phrase3', '尚未参保提醒')).toMatch(/1 至 5/)
    expect(checkWechatKeyword('phrase3', '{{tier}}')).toBe('phrase 类型不能使用占位符')
  })
  it('number and amount: digits or {{tier}} once', () => {
    expect(checkWechatKeyword('amount2', '200元')).toBeNull()
    expect(checkWechatKeyword('amount2', '{{tier}}元')).toBeNull()
    expect(checkWechatKeyword('number2', '二百')).toBe('number 类型只能填数字或 {{tier}}')
    expect(checkWechatKeyword('number2', '{{name}}')).toBe('number 类型只能填数字或 {{tier}}')
    expect(checkWechatKeyword('number2', '{{tier}}{{tier}}')).toBe('number 类型只能填数字或 {{tier}}')
  })
  it('date and time: a date or {{deadline}}', () => {
    expect(checkWechatKeyword('time2', '{{deadline}}')).toBeNull()
    expect(checkWechatKeyword('date4', '2026-12-31')).toBeNull()
    expect(checkWechatKeyword('date4', '{{name}}')).toBe('date 类型只能填日期或 {{deadline}}')
  })
  it('template ids', () => {
    expect(checkWechatTemplateId('tmpl-canbao-reminder')).toBeNull()
    expect(checkWechatTemplateId('tmpl canbao')).not.toBeNull()
    expect(checkWechatTemplateId('')).not.toBeNull()
  })
})

describe('SMS', () => {
  it('sign name: 2 to 12 Chinese characters, letters or digits', () => {
    expect(checkSignName('罗东镇劳保所')).toBeNull()
    expect(checkSignName('罗')).toBe('短信签名须为 2 至 12 个字，现为 1 个')
    expect(checkSignName('罗东镇劳保所罗东镇劳保所罗')).toBe('短信签名须为 2 至 12 个字，现为 13 个')
    expect(checkSignName('罗东 劳保')).toMatch(/只能包含汉字、字母和数字/)
    expect(checkSignName('【罗东】')).toMatch(/不能包含 “【”/)
    expect(checkSignName('ＡＢ')).toMatch(/只能包含/) // full-width letters are not ASCII
  })
  it('template code: SMS_ and 6 to 12 digits', () => {
    expect(checkTemplateCode('SMS_123456')).toBeNull()
    expect(checkTemplateCode('SMS_123456789012')).toBeNull()
    expect(checkTemplateCode('SMS_12345')).toMatch(/SMS_ 后跟 6 至 12 位数字/)
    expect(checkTemplateCode('SMS_1234567890123')).not.toBeNull()
    expect(checkTemplateCode('sms_123456')).not.toBeNull()
    expect(checkTemplateCode('SMS_12345a')).not.toBeNull()
  })
  it('params: names, emptiness, 【】 and 35 rendered characters', () => {
    expect(checkSmsParamCount(10)).toBeNull()
    expect(checkSmsParamCount(11)).toBe('模板参数最多 10 个，现有 11 个')
    expect(checkSmsParam('name', '{{name}}')).toBeNull()
    expect(checkSmsParam('1name', 'x')).toMatch(/名称不正确/)
    expect(checkSmsParam('a'.repeat(21), 'x')).toMatch(/名称不正确/)
    expect(checkSmsParam('p', ' ')).toBe('模板参数 "p" 的内容不能为空')
    expect(checkSmsParam('p', '【罗东】')).toBe('模板参数 "p" 的内容不能包含【】')
    expect(checkSmsParam('p', 'x'.repeat(35))).toBeNull()
    expect(checkSmsParam('p', 'x'.repeat(26) + '{{name}}')).toMatch(/渲染后最长 36 个字符，超过 35 个/)
    expect(checkSmsParam('p', '{{phone}}')).toMatch(/未知的占位符/)
  })
})
