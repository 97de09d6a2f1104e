// Issue #14 (集中宣传 events, 单位参保督查 employer referrals, 未参保原因分析): the request and
// answer types of its routes, hand-written from the API contract (shared docs/API.md, "Events
// and employer referrals") because api/openapi.yaml does not describe them yet, and the calls
// themselves, all in this one file.
//
// AT MERGE: once the backends' openapi.yaml sections land and `npm run gen:api` has run, each
// type below should become an alias of the generated schema (as api/types.ts does), and each
// call a typed `api.GET/POST/PATCH` with the schema's path; `npm run typecheck` then shows every
// place where an assumption here differs from the server. Every field the contract does not fix
// is marked "assumed".
import { api, call, fetchBlob, type CallOptions } from './client'

// ---- shared ----

// Page is the API's list answer ({"items","total"}, paged by page and page_size).
export interface Page<T> {
  items: T[]
  total: number
}

export interface PageQuery {
  page?: number
  page_size?: number
}

// ---- events (集中宣传活动) ----

export type EventKind = 'village' | 'industrial_park' | 'enterprise' | 'market' | 'other'

// Assumed: the contract names `status` in the create answer but not its values. The console
// labels the values below and shows any other as it comes (lib/outreach.ts eventStatusLabel).
export type EventStatus = 'planned' | 'open' | 'closed' | (string & {})

// POST /api/v1/admin/events (staff, admin), with an Idempotency-Key.
export interface EventCreateRequest {
  title: string
  kind: EventKind
  place: string
  starts_at: string // RFC 3339 with offset (the console sends +08:00)
  ends_at: string
  village_codes: string[]
  employer_credit_code?: string
}

// 201 answer of the create.
export interface EventCreated {
  id: number
  scene: string
  status: EventStatus
}

// One event, as GET /api/v1/admin/events/{id} and the list's items answer it. The contract says
// "list · one event"; the fields beyond the create request's and answer's are assumed.
export interface OutreachEvent {
  id: number
  title: string
  kind: EventKind
  place: string
  starts_at: string
  ends_at: string
  village_codes: string[]
  employer_credit_code: string | null
  employer_name?: string | null // assumed, optional: shown when present
  scene: string
  status: EventStatus
  checked_in?: number // assumed, optional: the list shows it when present
  created_at?: string // assumed, optional
}

export interface EventListQuery extends PageQuery {
  village?: string // assumed filter (a village admin's list is their village regardless)
}

// The three counters of an event, and of each slice of its stats.
export interface EventCounts {
  checked_in: number
  registered: number
  enrolled: number
}

// GET /api/v1/admin/events/{id}/stats. Assumed: each by_* is a map from the slice's key (village
// code; age band such as "16-29" or "60+"; gender male/female/unknown) to its counters, as the
// campaigns' stats are. lib/outreach.ts statRows also reads an array of {key|code|band|gender,
// label?, checked_in, registered, enrolled}, so either shape shows.
export type EventStatSlice = Record<string, EventCounts> | Array<Partial<EventCounts> & { key?: string; code?: string; band?: string; gender?: string; label?: string; name?: string }>
export interface EventStats extends EventCounts {
  by_village: EventStatSlice
  by_age_band: EventStatSlice
  by_gender: EventStatSlice
}

// ---- employers and referral cases (单位参保督查, 移送劳动保障监察) ----

// Assumed: referred → inspected → resolved, each move one step (PATCH answers 409 otherwise).
export type ReferralStatus = 'referred' | 'inspected' | 'resolved'

// GET /api/v1/admin/employers?village=&uninsured_min=&page=&page_size= (staff, admin;
// village_admin: own village). The row with credit_code null is "未知单位": employed people
// whose employer the roster does not know. `villages`: assumed village codes (names show too).
export interface EmployerRow {
  credit_code: string | null
  name: string | null
  employed_uninsured: number
  villages: string[]
  case: { id: number; status: ReferralStatus } | null
}

export interface EmployerQuery extends PageQuery {
  village?: string
  uninsured_min?: number
}

// POST /api/v1/admin/employers/{credit_code}/referrals {"note"} → 201; an open case → 409.
export interface ReferralCreated {
  id: number
  status: 'referred'
}

// One case, as GET /api/v1/admin/referrals (NOT in the contract's table: assumed, staff and
// admin, paged, newest first, optional status filter) answers it. Fields beyond id, status,
// note and insured_count (the PATCH's) are assumed.
export interface ReferralCase {
  id: number
  credit_code: string
  employer_name: string | null
  status: ReferralStatus
  employed_uninsured?: number
  villages?: string[]
  note: string | null // the latest note
  insured_count: number | null // set when resolved
  created_at: string
  updated_at?: string
}

export interface ReferralQuery extends PageQuery {
  status?: ReferralStatus
}

// PATCH /api/v1/admin/referrals/{id}; an illegal move → 409.
export interface ReferralMove {
  status: Exclude<ReferralStatus, 'referred'>
  note: string
  insured_count?: number
}

// GET /api/v1/admin/exports/referrals?format=xlsx: the open cases. Assumed: an admin asks for
// full ID numbers with this query parameter (audited); without it, or for staff, IDs are masked.
export const FULL_IDS_PARAM = 'full_ids'

// ---- reasons (未参保原因分析, 数据分析运用) ----

// One code with the server's Chinese label and a count (the answer carries the labels).
export interface LabelledCount {
  code: string
  label: string
  count: number
}

// A group of visits: one village, age band or gender.
export interface ReasonsGroup {
  key: string // village code, age band ("16-29"), gender
  label: string // 村名, "16-29 岁", 男
  visits: number
  outcomes: LabelledCount[]
  reasons: LabelledCount[]
}

// GET /api/v1/admin/analysis/reasons?village=&from=&to= (staff, admin, village_admin: own
// village). The whole shape is assumed: the contract says "visit outcomes and reasons by
// village, age band and gender" and that the answer carries Chinese labels.
export interface ReasonsAnalysis {
  from: string | null
  to: string | null
  village: string | null
  visits: number
  outcomes: LabelledCount[]
  reasons: LabelledCount[]
  by_village: ReasonsGroup[]
  by_age_band: ReasonsGroup[]
  by_gender: ReasonsGroup[]
}

export interface ReasonsQuery {
  village?: string
  from?: string // YYYY-MM-DD, Asia/Shanghai, inclusive
  to?: string
}

// ---- the calls ----

// The routes are not in the generated schema yet: openapi-fetch is called through a loose view
// of the same client (the same auth middleware, refresh and error handling).
type Init = {
  params?: { path?: Record<string, string | number>; query?: Record<string, unknown>; header?: Record<string, string> }
  body?: unknown
}
type Loose = (path: string, init?: Init) => Promise<{ data?: unknown; error?: unknown; response: Response }>
const loose = api as unknown as { GET: Loose; POST: Loose; PATCH: Loose }

// query drops empty values so that the server sees only the filters in use.
function query(q: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined && v !== '' && v !== null))
}

export const outreach = {
  listEvents: (q: EventListQuery, o?: CallOptions) =>
    call(loose.GET('/api/v1/admin/events', { params: { query: query(q) } }), o) as Promise<Page<OutreachEvent>>,
  getEvent: (id: number, o?: CallOptions) =>
    call(loose.GET('/api/v1/admin/events/{id}', { params: { path: { id } } }), o) as Promise<OutreachEvent>,
  createEvent: (body: EventCreateRequest, key: string, o?: CallOptions) =>
    call(loose.POST('/api/v1/admin/events', { params: { header: { 'Idempotency-Key': key } }, body }), o) as Promise<EventCreated>,
  eventStats: (id: number, o?: CallOptions) =>
    call(loose.GET('/api/v1/admin/events/{id}/stats', { params: { path: { id } } }), o) as Promise<EventStats>,
  // The code image and the poster are bytes, fetched with the bearer token.
  eventCode: (id: number) => fetchBlob(`/api/v1/admin/events/${id}/qrcode`),
  posterUrl: (id: number) => `/api/v1/admin/events/${id}/poster.pdf`,

  listEmployers: (q: EmployerQuery, o?: CallOptions) =>
    call(loose.GET('/api/v1/admin/employers', { params: { query: query(q) } }), o) as Promise<Page<EmployerRow>>,
  refer: (creditCode: string, note: string, key: string, o?: CallOptions) =>
    call(
      loose.POST('/api/v1/admin/employers/{credit_code}/referrals', {
        params: { path: { credit_code: creditCode }, header: { 'Idempotency-Key': key } },
        body: { note },
      }),
      o,
    ) as Promise<ReferralCreated>,
  listReferrals: (q: ReferralQuery, o?: CallOptions) =>
    call(loose.GET('/api/v1/admin/referrals', { params: { query: query(q) } }), o) as Promise<Page<ReferralCase>>,
  moveReferral: (id: number, body: ReferralMove, o?: CallOptions) =>
    call(loose.PATCH('/api/v1/admin/referrals/{id}', { params: { path: { id } }, body }), o) as Promise<Partial<ReferralCase>>,
  referralsExportUrl: (fullIds: boolean) =>
    `/api/v1/admin/exports/referrals?format=xlsx${fullIds ? `&${FULL_IDS_PARAM}=true` : ''}`,

  reasons: (q: ReasonsQuery, o?: CallOptions) =>
    call(loose.GET('/api/v1/admin/analysis/reasons', { params: { query: query(q) } }), o) as Promise<ReasonsAnalysis>,
}
