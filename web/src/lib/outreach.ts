// Issue #14's pure logic: the Chinese labels of events' kinds and statuses and of referral
// cases, the moves a case's status allows (the server stays the judge: a 409 is shown), the
// times an event is sent and shown with, the stats' slices as table rows, and the reasons
// analysis as a pivot table. No Vue, no Element Plus: unit-tested in test/outreach.test.ts.
import type {
  EventCounts,
  EventKind,
  EventStatSlice,
  EventStatus,
  LabelledCount,
  ReasonsGroup,
  ReferralFilter,
  ReferralNote,
  ReferralStatus,
} from '../api/outreach'

type TagType = 'info' | 'primary' | 'success' | 'warning' | 'danger'

// ---- events ----

export const eventKindLabel: Record<EventKind, string> = {
  village: '村居',
  industrial_park: '工业园区',
  enterprise: '企业',
  market: '集市',
  other: '其他',
}
export const eventKinds = Object.keys(eventKindLabel) as EventKind[]

export const eventStatusLabel: Record<EventStatus, string> = {
  planned: '未开始',
  ongoing: '进行中',
  ended: '已结束',
}
export const eventStatusType: Record<EventStatus, TagType> = {
  planned: 'primary',
  ongoing: 'success',
  ended: 'info',
}

// shanghaiTime writes a moment as RFC 3339 in Asia/Shanghai (UTC+8 all year, no summer time),
// e.g. 2026-12-08T09:30:00+08:00: the API's business time zone, whatever the browser's is.
export function shanghaiTime(d: Date): string {
  const t = new Date(d.getTime() + 8 * 3600_000)
  const p = (n: number) => String(n).padStart(2, '0')
  return (
    `${t.getUTCFullYear()}-${p(t.getUTCMonth() + 1)}-${p(t.getUTCDate())}` +
    `T${p(t.getUTCHours())}:${p(t.getUTCMinutes())}:${p(t.getUTCSeconds())}+08:00`
  )
}

// shanghaiParts is a moment's day and time of day in Asia/Shanghai.
function shanghaiParts(s: string): { day: string; time: string } | null {
  const d = new Date(s)
  if (Number.isNaN(d.getTime())) return null
  const iso = shanghaiTime(d)
  return { day: iso.slice(0, 10), time: iso.slice(11, 16) }
}

// eventWhen shows an event's time span in Beijing time: "2026-12-08 09:00-11:30" within a day,
// "2026-12-08 09:00 至 2026-12-09 17:00" across days.
export function eventWhen(startsAt: string, endsAt: string): string {
  const a = shanghaiParts(startsAt)
  const b = shanghaiParts(endsAt)
  if (!a || !b) return `${startsAt} 至 ${endsAt}`
  if (a.day === b.day) return `${a.day} ${a.time}-${b.time}`
  return `${a.day} ${a.time} 至 ${b.day} ${b.time}`
}

export interface EventForm {
  title: string
  kind: EventKind | ''
  place: string
  startsAt: Date | null
  endsAt: Date | null
  villages: string[]
  employer: string
}

// The server's limits: title 40 characters, place 60, an event at most 31 days long.
export const TITLE_MAX = 40
export const PLACE_MAX = 60
const MAX_DAYS = 31

// eventFormErrors checks the create form (field → Chinese message); the server checks again.
// The credit code's own check is creditCodeError's (lib/creditCode.ts).
export function eventFormErrors(f: EventForm, now = Date.now()): Partial<Record<keyof EventForm, string>> {
  const e: Partial<Record<keyof EventForm, string>> = {}
  const title = f.title.trim()
  if (!title) e.title = '请填写活动名称'
  else if ([...title].length > TITLE_MAX) e.title = `活动名称不能超过 ${TITLE_MAX} 字`
  if (!f.kind) e.kind = '请选择活动类型'
  const place = f.place.trim()
  if (!place) e.place = '请填写活动地点'
  else if ([...place].length > PLACE_MAX) e.place = `活动地点不能超过 ${PLACE_MAX} 字`
  if (!f.startsAt) e.startsAt = '请选择开始时间'
  if (!f.endsAt) e.endsAt = '请选择结束时间'
  else if (f.endsAt.getTime() <= now) e.endsAt = '结束时间已过'
  else if (f.startsAt && f.endsAt.getTime() <= f.startsAt.getTime()) e.endsAt = '结束时间应晚于开始时间'
  else if (f.startsAt && f.endsAt.getTime() - f.startsAt.getTime() > MAX_DAYS * 86_400_000) e.endsAt = `活动时长不能超过 ${MAX_DAYS} 天`
  if (f.kind === 'village' && f.villages.length === 0) e.villages = '村居宣传请选择村（社区）'
  if (f.kind === 'enterprise' && !f.employer.trim()) e.employer = '企业宣传请填写单位的统一社会信用代码'
  return e
}

// ---- the stats' slices ----

export interface StatRow extends EventCounts {
  key: string
  label: string
}

const genderName: Record<string, string> = { male: '男', female: '女', unknown: '未知' }

// ageBandLabel: "16-29" → "16-29 岁", "60+" → "60 岁及以上", other (outside 16-59) → 其他年龄;
// anything else as it comes.
export function ageBandLabel(band: string): string {
  if (/^\d+-\d+$/.test(band)) return `${band} 岁`
  const m = /^(\d+)\+$/.exec(band)
  if (m) return `${m[1]} 岁及以上`
  if (band === 'unknown') return '未知'
  if (band === 'other') return '其他年龄'
  return band
}

export type SliceKind = 'village' | 'age_band' | 'gender'

// statRows turns one of the stats' slices (a map key → counters, or an array of rows) into
// table rows with Chinese labels: villages named from the village list, age bands in order,
// then the rest by check-ins.
export function statRows(slice: EventStatSlice | null | undefined, kind: SliceKind, villageName?: Map<string, string>): StatRow[] {
  if (!slice) return []
  const raw: Array<{ key: string; label?: string; c: Partial<EventCounts> }> = Array.isArray(slice)
    ? slice.map((r) => ({ key: String(r.key ?? r.code ?? ''), label: r.label ?? r.name, c: r }))
    : Object.entries(slice).map(([key, c]) => ({ key, c }))
  const rows = raw.map(({ key, label, c }) => ({
    key,
    label:
      label ??
      (kind === 'village' ? (villageName?.get(key) ?? key) : kind === 'gender' ? (genderName[key] ?? key) : ageBandLabel(key)),
    checked_in: c.checked_in ?? 0,
    registered: c.registered ?? 0,
    enrolled: c.enrolled ?? 0,
  }))
  if (kind === 'age_band') return rows.sort((a, b) => bandStart(a.key) - bandStart(b.key))
  return rows.sort((a, b) => b.checked_in - a.checked_in || a.label.localeCompare(b.label, 'zh-CN'))
}

function bandStart(band: string): number {
  const m = /^(\d+)/.exec(band)
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER
}

// rate is enrolled / checked in as a percentage, or — without check-ins.
export function rate(part: number, whole: number): string {
  if (!whole) return '—'
  return `${((part / whole) * 100).toFixed(1)}%`
}

// ---- referral cases ----

export const referralStatusLabel: Record<ReferralStatus, string> = {
  referred: '已移送',
  inspected: '已检查',
  resolved: '已办结',
}
export const referralStatusType: Record<ReferralStatus, TagType> = {
  referred: 'warning',
  inspected: 'primary',
  resolved: 'success',
}

// The cases list's filter: the server's default is the open cases.
export const referralFilterLabel: Record<ReferralFilter, string> = {
  open: '未办结',
  all: '全部',
  referred: '已移送',
  inspected: '已检查',
  resolved: '已办结',
}

// latestNote is a case's newest note (the notes in any order), or null.
export function latestNote(notes: ReferralNote[] | null | undefined): ReferralNote | null {
  let best: ReferralNote | null = null
  for (const n of notes ?? []) if (!best || n.created_at >= best.created_at) best = n
  return best
}

export type ReferralMoveTo = Exclude<ReferralStatus, 'referred'>

// The moves each status allows: one step at a time; a resolved case is closed.
const moves: Record<ReferralStatus, ReferralMoveTo[]> = {
  referred: ['inspected'],
  inspected: ['resolved'],
  resolved: [],
}
export function movesFor(status: ReferralStatus): ReferralMoveTo[] {
  return moves[status] ?? []
}
export const moveLabel: Record<ReferralMoveTo, string> = {
  inspected: '登记检查结果',
  resolved: '办结',
}

// isOpen: the case still needs labour inspection's work (and is on the export).
export function isOpen(status: ReferralStatus): boolean {
  return status !== 'resolved'
}

// A case's note: 1 to 1000 characters (ReferralNoteText).
export const NOTE_MAX = 1000

export interface MoveForm {
  to: ReferralMoveTo
  note: string
  insured: number | undefined
}

// moveErrors checks a move before it is sent: a note is required; resolving needs the number
// of people insured as a result (0 or more, at most the employer's uninsured count when known).
export function moveErrors(f: MoveForm, uninsured?: number): { note?: string; insured?: string } {
  const e: { note?: string; insured?: string } = {}
  const note = f.note.trim()
  if (!note) e.note = '请填写情况说明'
  else if ([...note].length > NOTE_MAX) e.note = `情况说明不能超过 ${NOTE_MAX} 字`
  if (f.to === 'resolved') {
    if (f.insured === undefined || f.insured === null || !Number.isInteger(f.insured) || f.insured < 0) e.insured = '请填写因此参保的人数'
    else if (uninsured !== undefined && f.insured > uninsured) e.insured = `不能超过该单位未参保人数（${uninsured} 人）`
  }
  return e
}

export const UNKNOWN_EMPLOYER = '未知单位'

// ---- reasons analysis ----

export interface PivotRow {
  key: string
  label: string
  people: number
  stayingOut: number
  withoutReason: number
  counts: Record<string, number>
}
export interface Pivot {
  columns: { code: string; label: string }[]
  rows: PivotRow[]
}

// pivot lays the analysis's groups (villages, age bands, genders) out against the codes of one
// measure (outcomes or reasons): the columns are every code any group has, in the order of the
// overall list (the server lists every code, zeros included), then any other; labels are the
// server's.
export function pivot(groups: ReasonsGroup[] | null | undefined, measure: 'by_outcome' | 'by_reason', overall: LabelledCount[] = []): Pivot {
  const columns: { code: string; label: string }[] = []
  const seen = new Set<string>()
  const add = (c: LabelledCount) => {
    if (seen.has(c.code)) return
    seen.add(c.code)
    columns.push({ code: c.code, label: c.label || c.code })
  }
  overall.forEach(add)
  for (const g of groups ?? []) g[measure].forEach(add)
  const rows = (groups ?? []).map((g) => {
    const counts: Record<string, number> = {}
    for (const c of g[measure]) counts[c.code] = (counts[c.code] ?? 0) + c.count
    return { key: g.code, label: g.label || g.code, people: g.people, stayingOut: g.staying_out, withoutReason: g.without_reason, counts }
  })
  return { columns, rows }
}

// share is a count as a percentage of a total (one decimal), or — for none.
export function share(n: number | undefined, total: number): string {
  if (!total) return '—'
  return `${(((n ?? 0) / total) * 100).toFixed(1)}%`
}
