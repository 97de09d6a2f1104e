import { describe, expect, it } from 'vitest'
import {
  ageBandLabel,
  eventFormErrors,
  eventKindLabel,
  eventKinds,
  eventStatusLabel,
  eventStatusType,
  eventWhen,
  isOpen,
  moveErrors,
  moveLabel,
  movesFor,
  pivot,
  rate,
  referralStatusLabel,
  shanghaiTime,
  share,
  statRows,
  type EventForm,
} from '../src/lib/outreach'
import type { ReasonsGroup, ReferralStatus } from '../src/api/outreach'

describe('event labels', () => {
  it('labels every kind the API accepts, in the order the form offers them', () => {
    expect(eventKinds).toEqual(['village', 'industrial_park', 'enterprise', 'market', 'other'])
    expect(eventKinds.map((k) => eventKindLabel[k])).toEqual(['村居', '工业园区', '企业', '集市', '其他'])
  })

  it('labels the statuses it knows and shows others as they come', () => {
    expect(eventStatusLabel('open')).toBe('进行中')
    expect(eventStatusLabel('closed')).toBe('已结束')
    expect(eventStatusLabel('planned')).toBe('未开始')
    expect(eventStatusType('open')).toBe('success')
    expect(eventStatusLabel('archived')).toBe('archived')
    expect(eventStatusType('archived')).toBe('info')
  })
})

describe('event times in Beijing time', () => {
  it('writes RFC 3339 with +08:00 whatever the browser zone', () => {
    expect(shanghaiTime(new Date('2026-12-08T01:30:00Z'))).toBe('2026-12-08T09:30:00+08:00')
    expect(shanghaiTime(new Date('2026-12-31T16:00:00Z'))).toBe('2027-01-01T00:00:00+08:00')
    expect(shanghaiTime(new Date('2028-02-28T20:05:09Z'))).toBe('2028-02-29T04:05:09+08:00')
  })

  it('shows a span within a day with one date, across days with two', () => {
    expect(eventWhen('2026-12-08T09:00:00+08:00', '2026-12-08T11:30:00+08:00')).toBe('2026-12-08 09:00-11:30')
    expect(eventWhen('2026-12-08T01:00:00Z', '2026-12-08T03:30:00Z')).toBe('2026-12-08 09:00-11:30')
    expect(eventWhen('2026-12-08T09:00:00+08:00', '2026-12-09T17:00:00+08:00')).toBe('2026-12-08 09:00 至 2026-12-09 17:00')
    // 23:00 UTC is the next day in Shanghai
    expect(eventWhen('2026-12-08T23:00:00Z', '2026-12-09T01:00:00Z')).toBe('2026-12-09 07:00-09:00')
    expect(eventWhen('soon', 'later')).toBe('soon 至 later')
  })
})

describe('the create form', () => {
  const good = (): EventForm => ({
    title: '振兴村集中宣传',
    kind: 'village',
    place: '村委会广场',
    startsAt: new Date('2026-12-08T01:00:00Z'),
    endsAt: new Date('2026-12-08T04:00:00Z'),
    villages: ['zhenxing'],
    employer: '',
  })

  it('accepts a complete form', () => {
    expect(eventFormErrors(good())).toEqual({})
    expect(eventFormErrors({ ...good(), kind: 'market', villages: [] })).toEqual({})
  })

  it('names each missing or wrong field in Chinese', () => {
    expect(eventFormErrors({ ...good(), title: '  ', place: '', kind: '' })).toEqual({
      title: '请填写活动名称',
      place: '请填写活动地点',
      kind: '请选择活动类型',
    })
    expect(eventFormErrors({ ...good(), title: '长'.repeat(101) }).title).toBe('活动名称不能超过 100 字')
    expect(eventFormErrors({ ...good(), startsAt: null, endsAt: null })).toEqual({ startsAt: '请选择开始时间', endsAt: '请选择结束时间' })
    const same = new Date('2026-12-08T01:00:00Z')
    expect(eventFormErrors({ ...good(), startsAt: same, endsAt: same }).endsAt).toBe('结束时间应晚于开始时间')
    expect(eventFormErrors({ ...good(), villages: [] }).villages).toBe('村居宣传请选择村（社区）')
    expect(eventFormErrors({ ...good(), kind: 'enterprise' }).employer).toBe('企业宣传请填写单位的统一社会信用代码')
  })
})

describe('the stats slices', () => {
  const villages = new Map([
    ['zhenxing', '振兴村'],
    ['donghu', '东湖村'],
  ])

  it('reads a map of counters, names villages, and puts the most check-ins first', () => {
    const rows = statRows(
      { donghu: { checked_in: 2, registered: 1, enrolled: 0 }, zhenxing: { checked_in: 5, registered: 2, enrolled: 1 }, ghost: { checked_in: 1, registered: 0, enrolled: 0 } },
      'village',
      villages,
    )
    expect(rows.map((r) => [r.key, r.label, r.checked_in])).toEqual([
      ['zhenxing', '振兴村', 5],
      ['donghu', '东湖村', 2],
      ['ghost', 'ghost', 1],
    ])
  })

  it('orders age bands by age and labels them; labels genders', () => {
    const c = { checked_in: 1, registered: 0, enrolled: 0 }
    expect(statRows({ '60+': c, '30-44': c, '16-29': c, '45-59': c }, 'age_band').map((r) => r.label)).toEqual([
      '16-29 岁',
      '30-44 岁',
      '45-59 岁',
      '60 岁及以上',
    ])
    expect(statRows({ female: { ...c, checked_in: 3 }, male: c, unknown: { ...c, checked_in: 0 } }, 'gender').map((r) => r.label)).toEqual(['女', '男', '未知'])
  })

  it('reads an array of rows too, filling missing counters with 0', () => {
    const rows = statRows([{ gender: 'male', checked_in: 4 }, { key: 'female', label: '女性', checked_in: 6, enrolled: 2 }], 'gender')
    expect(rows).toEqual([
      { key: 'female', label: '女性', checked_in: 6, registered: 0, enrolled: 2 },
      { key: 'male', label: '男', checked_in: 4, registered: 0, enrolled: 0 },
    ])
    expect(statRows(undefined, 'village')).toEqual([])
  })

  it('labels age bands it cannot parse as they come', () => {
    expect(ageBandLabel('unknown')).toBe('未知')
    expect(ageBandLabel('老年')).toBe('老年')
  })

  it('gives rates with one decimal, or a dash without a base', () => {
    expect(rate(1, 3)).toBe('33.3%')
    expect(rate(0, 0)).toBe('—')
    expect(share(undefined, 4)).toBe('0.0%')
    expect(share(1, 0)).toBe('—')
  })
})

describe('referral cases', () => {
  it('moves one step at a time: 已移送 → 已检查 → 已办结, and a resolved case is closed', () => {
    const all: ReferralStatus[] = ['referred', 'inspected', 'resolved']
    expect(all.map((s) => movesFor(s))).toEqual([['inspected'], ['resolved'], []])
    expect(all.map((s) => referralStatusLabel[s])).toEqual(['已移送', '已检查', '已办结'])
    expect(all.map(isOpen)).toEqual([true, true, false])
    expect(moveLabel.inspected).toBe('登记检查结果')
    expect(movesFor('bogus' as ReferralStatus)).toEqual([])
  })

  it('needs a note for every move and the number insured to resolve', () => {
    expect(moveErrors({ to: 'inspected', note: '已检查', insured: undefined })).toEqual({})
    expect(moveErrors({ to: 'inspected', note: ' ', insured: undefined })).toEqual({ note: '请填写情况说明' })
    expect(moveErrors({ to: 'resolved', note: '已补缴', insured: undefined })).toEqual({ insured: '请填写因此参保的人数' })
    expect(moveErrors({ to: 'resolved', note: '已补缴', insured: -1 }).insured).toBe('请填写因此参保的人数')
    expect(moveErrors({ to: 'resolved', note: '已补缴', insured: 1.5 }).insured).toBe('请填写因此参保的人数')
    expect(moveErrors({ to: 'resolved', note: '已补缴', insured: 0 })).toEqual({})
    expect(moveErrors({ to: 'resolved', note: '已补缴', insured: 6 }, 5).insured).toBe('不能超过该单位未参保人数（5 人）')
    expect(moveErrors({ to: 'inspected', note: '字'.repeat(501), insured: undefined }).note).toBe('情况说明不能超过 500 字')
  })
})

describe('the reasons pivot', () => {
  const groups: ReasonsGroup[] = [
    {
      key: 'zhenxing',
      label: '振兴村',
      visits: 10,
      outcomes: [],
      reasons: [
        { code: 'unwilling', label: '不愿参保', count: 3 },
        { code: 'cannot_afford', label: '缴不起费', count: 1 },
      ],
    },
    { key: 'donghu', label: '', visits: 4, outcomes: [], reasons: [{ code: 'new_reason', label: '新原因', count: 2 }] },
  ]

  it('has a column for every code, the overall list first, and a row per group', () => {
    const overall = [
      { code: 'cannot_afford', label: '缴不起费', count: 1 },
      { code: 'unwilling', label: '不愿参保', count: 3 },
    ]
    const p = pivot(groups, 'reasons', overall)
    expect(p.columns).toEqual([
      { code: 'cannot_afford', label: '缴不起费' },
      { code: 'unwilling', label: '不愿参保' },
      { code: 'new_reason', label: '新原因' },
    ])
    expect(p.rows).toEqual([
      { key: 'zhenxing', label: '振兴村', visits: 10, counts: { unwilling: 3, cannot_afford: 1 }, total: 4 },
      { key: 'donghu', label: 'donghu', visits: 4, counts: { new_reason: 2 }, total: 2 },
    ])
  })

  it('is empty without groups', () => {
    expect(pivot(null, 'outcomes')).toEqual({ columns: [], rows: [] })
  })
})
