// Issue #14 (集中宣传 events, 单位参保督查 employer referrals, 未参保原因分析): the request and
// answer types of its routes and the calls themselves, all in this one file.
//
// The reasons analysis is in api/openapi.yaml (merged): its types are the generated schema's.
// The events and employer routes are not yet: their types are hand-written, field for field,
// from the `events` and `employers` branches' openapi.yaml (EventCreateRequest, Event,
// EventStats, Employer, ReferralCase, ...), which follow the API contract (shared docs/API.md,
// "Events and employer referrals").
//
// AT MERGE: after `npm run gen:api` over the merged spec, replace each hand-written interface
// below by an alias of the generated schema of the same name (as api/types.ts does) and each
// loose call by a typed `api.GET/POST/PATCH`; `npm run typecheck` then shows any difference.
import type { components } from './schema'
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

// ---- events (集中宣传活动): events branch, schemas EventKind … EventStats ----

export type EventKind = 'village' | 'industrial_park' | 'enterprise' | 'market' | 'other'

// By the clock: planned before starts_at, ongoing until ends_at, then ended.
export type EventStatus = 'planned' | 'ongoing' | 'ended'

// POST /api/v1/admin/events (staff, admin), with an Idempotency-Key. Title at most 40
// characters and place at most 60, printable on the poster (ASCII and GB 2312); ends_at after
// starts_at, at most 31 days later, not in the past (422 RULE_VIOLATION); a village event needs
// a village; an enterprise event needs the employer's code.
export interface EventCreateRequest {
  title: string
  kind: EventKind
  place: string
  starts_at: string // RFC 3339 with offset (the console sends +08:00)
  ends_at: string
  village_codes?: string[]
  employer_credit_code?: string | null
}

// 201 answer of the create; scene: 16 letters and digits.
export interface EventCreated {
  id: number
  scene: string
  status: EventStatus
}

// One event (GET /api/v1/admin/events/{id}; the list's items).
export interface OutreachEvent {
  id: number
  title: string
  kind: EventKind
  place: string
  starts_at: string
  ends_at: string
  village_codes: string[]
  employer_credit_code: string | null
  scene: string
  status: EventStatus
  created_at: string
}

// GET /api/v1/admin/events: latest start first; a village admin sees their village's only.
export interface EventListQuery extends PageQuery {
  village?: string
}

// The three figures of an event, and of each group of its stats.
export interface EventCounts {
  checked_in: number
  registered: number
  enrolled: number
}

// A group: by_village rows carry code and name (code `unknown` for accounts not linked to the
// roster); by_age_band (16-29, 30-39, 40-44, 45-59, other) and by_gender (male, female) rows
// carry key (or unknown). lib/outreach.ts statRows also reads a map key → figures.
export type EventStatRow = EventCounts & { key?: string; code?: string; name?: string; label?: string }
export type EventStatSlice = EventStatRow[] | Record<string, EventCounts>

// GET /api/v1/admin/events/{id}/stats (staff, admin).
export interface EventStats extends EventCounts {
  event_id: number
  attribution_days: number
  by_village: EventStatSlice
  by_age_band: EventStatSlice
  by_gender: EventStatSlice
}

// ---- employers and referral cases: employers branch, schemas Employer … ReferralCase ----

export type ReferralStatus = 'referred' | 'inspected' | 'resolved'

// GET /api/v1/admin/employers?village=&uninsured_min=&page=&page_size= (staff, admin;
// village_admin: own village): employed, unenrolled people aged 16-59 grouped by employer, most
// people first. The row with credit_code null is 未知单位 (its name says so): employed people
// whose employer the roster does not know. villages: village codes. case: the open case.
export interface EmployerRow {
  credit_code: string | null
  name: string
  employed_uninsured: number
  villages: string[]
  case: { id: number; status: ReferralStatus } | null
}

export interface EmployerQuery extends PageQuery {
  village?: string
  uninsured_min?: number
}

// POST /api/v1/admin/employers/{credit_code}/referrals {"note"} (1-1000 characters) → 201; an
// open case already → 409 REFERRAL_OPEN; a code nobody on the roster has → 404.
export interface ReferralCreated {
  id: number
  status: 'referred'
}

export interface ReferralNote {
  status: ReferralStatus
  note: string
  insured_count: number | null
  created_by: number
  created_at: string
}

// One case (GET /api/v1/admin/referrals items, GET and PATCH /api/v1/admin/referrals/{id}).
// referred_count: the employer's employed, unenrolled people when the case was opened.
export interface ReferralCase {
  id: number
  credit_code: string
  employer_name: string
  status: ReferralStatus
  referred_count: number
  insured_count: number | null
  created_by: number
  created_at: string
  updated_at: string
  notes: ReferralNote[]
}

// GET /api/v1/admin/referrals (staff, admin), newest first; status defaults to open (referred
// and inspected).
export type ReferralFilter = 'open' | 'all' | ReferralStatus
export interface ReferralQuery extends PageQuery {
  status?: ReferralFilter
}

// PATCH /api/v1/admin/referrals/{id}: inspected from referred, resolved from inspected; any
// other move → 409 REFERRAL_STATE_CONFLICT. insured_count is kept when left out.
export interface ReferralMove {
  status: Exclude<ReferralStatus, 'referred'>
  note: string
  insured_count?: number
}

// GET /api/v1/admin/exports/referrals?format=xlsx: the open cases (sheets 移交案件 and
// 未参保人员), IDs masked; full_ids=true gives full ones, to an admin only (staff → 403), audited.
export const FULL_IDS_PARAM = 'full_ids'

// ---- reasons (未参保原因分析): merged, generated types ----

type S = components['schemas']
export type LabelledCount = S['LabelledCount']
export type ReasonsGroup = S['ReasonsGroup']
export type ReasonsAnalysis = S['ReasonsAnalysis']
export type ReasonsQuery = NonNullable<import('./schema').paths['/api/v1/admin/analysis/reasons']['get']['parameters']['query']>

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

  reasons: (q: ReasonsQuery, o?: CallOptions) => call(api.GET('/api/v1/admin/analysis/reasons', { params: { query: q } }), o),
}
