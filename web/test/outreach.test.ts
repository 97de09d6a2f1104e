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
  latestNote,
  moveErrors,
  moveLabel,
  movesFor,
  pivot,
  rate,
  referralFilterLabel,
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

  it('labels the statuses the clock gives an event', () => {
    expect([eventStatusLabel.planned, eventStatusLabel.ongoing, eventStatusLabel.ended]).toEqual(['未开始', '进行中', '已结束'])
    expect(eventStatusType.ongoing).toBe('success')
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
  const now = new Date('2026-12-07T12:00:00Z').getTime()
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
    expect(eventFormErrors(good(), now)).toEqual({})
    expect(eventFormErrors({ ...good(), kind: 'market', villages: [] }, now)).toEqual({})
  })

  it('names each missing or wrong field in Chinese', () => {
    expect(eventFormErrors({ ...good(), title: '  ', place: '', kind: '' }, now)).toEqual({
      title: '请填写活动名称',
      place: '请填写活动地点',
      kind: '请选择活动类型',
    })
    expect(eventFormErrors({ ...good(), title: '长'.repeat(40) }, now).title).toBeUndefined()
    expect(eventFormErrors({ ...good(), title: '长'.repeat(41) }, now).title).toBe('活动名称不能超过 40 字')
    expect(eventFormErrors({ ...good(), place: '地'.repeat(61) }, now).place).toBe('活动地点不能超过 60 字')
    expect(eventFormErrors({ ...good(), startsAt: null, endsAt: null }, now)).toEqual({ startsAt: '请选择开始时间', endsAt: '请选择结束时间' })
    const same = new Date('2026-12-08T01:00:00Z')
    expect(eventFormErrors({ ...good(), startsAt: same, endsAt: same }, now).endsAt).toBe('结束时间应晚于开始时间')
    expect(eventFormErrors({ ...good(), startsAt: new Date(now - 7_200_000), endsAt: new Date(now - 60_000) }, now).endsAt).toBe('结束时间已过')
    expect(eventFormErrors({ ...good(), endsAt: new Date(good().startsAt!.getTime() + 31 * 86_400_000) }, now).endsAt).toBeUndefined()
    expect(eventFormErrors({ ...good(), endsAt: new Date(good().startsAt!.getTime() + 31 * 86_400_000 + 60_000) }, now).endsAt).toBe('活动时长不能超过 31 天')
    expect(eventFormErrors({ ...good(), villages: [] }, now).villages).toBe('村居宣传请选择村（社区）')
    expect(eventFormErrors({ ...good(), kind: 'enterprise' }, now).employer).toBe('企业宣传请填写单位的统一社会信用代码')
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

  it('reads the server’s arrays: villages with code and name, groups with key', () => {
    const villagesRows = statRows(
      [
        { code: 'unknown', name: '未关联花名册', checked_in: 2, registered: 0, enrolled: 0 },
        { code: 'zhenxing', name: '振兴村', checked_in: 4, registered: 1, enrolled: 1 },
      ],
      'village',
      villages,
    )
    expect(villagesRows.map((r) => [r.key, r.label, r.checked_in])).toEqual([
      ['zhenxing', '振兴村', 4],
      ['unknown', '未关联花名册', 2],
    ])
    const c = { registered: 0, enrolled: 0 }
    const bands = statRows(
      [
        { key: 'other', checked_in: 1, ...c },
        { key: '45-59', checked_in: 1, ...c },
        { key: 'unknown', checked_in: 3, ...c },
        { key: '16-29', checked_in: 2, ...c },
      ],
      'age_band',
    )
    expect(bands.map((r) => r.label)).toEqual(['16-29 岁', '45-59 岁', '其他年龄', '未知'])
    expect(statRows([{ key: 'male', checked_in: 4, ...c }, { key: 'unknown', checked_in: 6, ...c }], 'gender').map((r) => r.label)).toEqual(['未知', '男'])
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
    expect(moveErrors({ to: 'inspected', note: '字'.repeat(1000), insured: undefined }).note).toBeUndefined()
    expect(moveErrors({ to: 'inspected', note: '字'.repeat(1001), insured: undefined }).note).toBe('情况说明不能超过 1000 字')
  })

  it('shows the newest note whatever order the notes come in, and filters open cases by default', () => {
    const note = (status: ReferralStatus, note: string, at: string) => ({ status, note, insured_count: null, created_by: 1, created_at: at })
    const notes = [note('inspected', '已检查', '2026-12-05T10:00:00+08:00'), note('referred', '移送', '2026-12-01T09:00:00+08:00')]
    expect(latestNote(notes)?.note).toBe('已检查')
    expect(latestNote([...notes].reverse())?.note).toBe('已检查')
    expect(latestNote([])).toBeNull()
    expect(Object.keys(referralFilterLabel)[0]).toBe('open')
    expect(referralFilterLabel.open).toBe('未办结')
  })
})

describe('the reasons pivot', () => {
  const lc = (code: string, label: string, count: number) => ({ code, label, count })
  const group = (code: string, label: string, people: number, stayingOut: number, reasons: ReturnType<typeof lc>[]): ReasonsGroup => ({
    code,
    label,
    people,
    staying_out: stayingOut,
    without_reason: stayingOut - reasons.reduce((a, b) => a + b.count, 0),
    by_outcome: [lc('refused', '拒绝', stayingOut)],
    by_reason: reasons,
  })
  const groups = [
    group('zhenxing', '振兴村', 10, 5, [lc('unwilling', '不愿参保', 3), lc('cannot_afford', '缴不起费', 1)]),
    group('donghu', '', 4, 2, [lc('new_reason', '新原因', 2)]),
  ]

  it('has a column for every code, the overall list first, and a row per group', () => {
    const overall = [lc('cannot_afford', '缴不起费', 1), lc('unwilling', '不愿参保', 3)]
    const p = pivot(groups, 'by_reason', overall)
    expect(p.columns).toEqual([
      { code: 'cannot_afford', label: '缴不起费' },
      { code: 'unwilling', label: '不愿参保' },
      { code: 'new_reason', label: '新原因' },
    ])
    expect(p.rows).toEqual([
      { key: 'zhenxing', label: '振兴村', people: 10, stayingOut: 5, withoutReason: 1, counts: { unwilling: 3, cannot_afford: 1 } },
      { key: 'donghu', label: 'donghu', people: 4, stayingOut: 2, withoutReason: 0, counts: { new_reason: 2 } },
    ])
    expect(pivot(groups, 'by_outcome').columns).toEqual([{ code: 'refused', label: '拒绝' }])
  })

  it('is empty without groups', () => {
    expect(pivot(null, 'by_outcome')).toEqual({ columns: [], rows: [] })
  })
})
