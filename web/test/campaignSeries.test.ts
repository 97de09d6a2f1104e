import { describe, expect, it } from 'vitest'
import { dailySeries, seriesTotals } from '../src/lib/campaignSeries'

describe('dailySeries', () => {
  it('is empty without counts', () => {
    expect(dailySeries({}, {})).toEqual([])
    expect(dailySeries(undefined, null)).toEqual([])
    expect(dailySeries({ '20261201': 0 }, {})).toEqual([])
  })

  it('merges the two maps by day, oldest first, filling missing days with zeros', () => {
    const s = dailySeries({ '20261203': 5, '20261130': 10 }, { '20261202': 2, '20261204': 1 })
    expect(s.map((p) => [p.day, p.sent, p.converted])).toEqual([
      ['20261130', 10, 0],
      ['20261201', 0, 0],
      ['20261202', 0, 2],
      ['20261203', 5, 0],
      ['20261204', 0, 1],
    ])
    expect(s[0]).toEqual({ day: '20261130', date: '2026-11-30', label: '11-30', sent: 10, converted: 0 })
    expect(seriesTotals(s)).toEqual({ sent: 15, converted: 3 })
  })

  it('crosses months, leap days and years on the calendar, not the clock', () => {
    const s = dailySeries({ '20280227': 1, '20280301': 1 }, {})
    expect(s.map((p) => p.day)).toEqual(['20280227', '20280228', '20280229', '20280301'])
    const y = dailySeries({ '20261231': 1 }, { '20270101': 1 })
    expect(y.map((p) => p.label)).toEqual(['2026-12-31', '2027-01-01'])
  })

  it('leaves out keys that are not dates', () => {
    const s = dailySeries({ '20261301': 4, '2026121': 1, x: 3, '20261201': 2 }, { '20260230': 1 })
    expect(s.map((p) => [p.day, p.sent, p.converted])).toEqual([['20261201', 2, 0]])
  })

  it('keeps only the days with counts over a very long span, and the totals still add up', () => {
    const s = dailySeries({ '20200101': 3 }, { '20261201': 2 }, 100)
    expect(s.map((p) => p.day)).toEqual(['20200101', '20261201'])
    expect(seriesTotals(s)).toEqual({ sent: 3, converted: 2 })
  })
})
