// The 转化趋势 series of a campaign: the stats' by_day (sent per day) and converted_by_day
// (conversions per day the person enrolled), both keyed by the Asia/Shanghai day as YYYYMMDD,
// turned into one point per day, oldest first. Days between the first and the last with nothing
// get zeros, so the chart's axis has no gaps; the totals are the sums of the two maps, unchanged.

export interface DayPoint {
  day: string // YYYYMMDD, as the server keys it
  date: string // YYYY-MM-DD
  label: string // MM-DD, or YYYY-MM-DD when the series spans more than one year
  sent: number
  converted: number
}

// MAX_FILLED_DAYS bounds the filling: a longer span (a campaign repeated over years) keeps only
// the days that have counts, so a chart never holds thousands of empty days.
export const MAX_FILLED_DAYS = 800

const KEY = /^(\d{4})(\d{2})(\d{2})$/

// dayNumber is the day's number since 1970-01-01 (a civil date: no time zone involved), or
// null for a key that is not a real date.
function dayNumber(key: string): number | null {
  const m = KEY.exec(key)
  if (!m) return null
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const t = Date.UTC(y, mo - 1, d)
  const back = new Date(t)
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null
  return t / 86_400_000
}

function keyOf(n: number): string {
  const d = new Date(n * 86_400_000)
  const p = (x: number) => String(x).padStart(2, '0')
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}`
}

type DayMap = Record<string, number | undefined> | null | undefined

// dailySeries merges the two maps into one point per day, oldest first, filling the days in
// between with zeros. Keys that are not dates (YYYYMMDD) are left out.
export function dailySeries(byDay: DayMap, convertedByDay: DayMap, maxFilled = MAX_FILLED_DAYS): DayPoint[] {
  const days = new Map<number, { sent: number; converted: number }>()
  const add = (m: DayMap, k: 'sent' | 'converted') => {
    for (const [key, v] of Object.entries(m ?? {})) {
      const n = dayNumber(key)
      if (n === null || !v) continue
      const p = days.get(n) ?? { sent: 0, converted: 0 }
      p[k] += v
      days.set(n, p)
    }
  }
  add(byDay, 'sent')
  add(convertedByDay, 'converted')
  if (days.size === 0) return []
  const known = [...days.keys()].sort((a, b) => a - b)
  const first = known[0]!
  const last = known[known.length - 1]!
  const span = last - first + 1
  const numbers = span <= maxFilled ? Array.from({ length: span }, (_, i) => first + i) : known
  const multiYear = keyOf(first).slice(0, 4) !== keyOf(last).slice(0, 4)
  return numbers.map((n) => {
    const day = keyOf(n)
    const date = `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`
    const c = days.get(n) ?? { sent: 0, converted: 0 }
    return { day, date, label: multiYear ? date : date.slice(5), sent: c.sent, converted: c.converted }
  })
}

// seriesTotals sums a series (what the chart shows, to compare with the counters).
export function seriesTotals(points: DayPoint[]): { sent: number; converted: number } {
  return points.reduce((t, p) => ({ sent: t.sent + p.sent, converted: t.converted + p.converted }), { sent: 0, converted: 0 })
}
