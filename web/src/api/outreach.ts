// Issue #14 (集中宣传 events, 单位参保督查 employer referrals, 未参保原因分析): the request and
// answer types of its routes and the calls themselves, all in this one file. The types are the
// generated schema's (api/openapi.yaml → schema.d.ts); what is written here is only what the
// pages add on top (queries, the stats' row shape the pages read).
import type { components } from './schema'
import { api, call, fetchBlob, type CallOptions } from './client'

type S = components['schemas']

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

// ---- events (集中宣传活动): schemas EventKind … EventStats ----

export type EventKind = S['EventKind']

// By the clock: planned before starts_at, ongoing until ends_at, then ended.
export type EventStatus = S['EventStatus']

// POST /api/v1/admin/events (staff, admin), with an Idempotency-Key. Title at most 40
// characters and place at most 60, printable on the poster (ASCII and GB 2312); ends_at after
// starts_at, at most 31 days later, not in the past (422 RULE_VIOLATION); a village event needs
// a village; an enterprise event needs the employer's code.
export type EventCreateRequest = S['EventCreateRequest']

// 201 answer of the create; scene: 16 letters and digits.
export type EventCreated = S['EventCreated']

// One event (GET /api/v1/admin/events/{id}; the list's items).
export type OutreachEvent = S['Event']

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
export type EventStats = S['EventStats']

// ---- employers and referral cases: schemas Employer … ReferralCase ----

export type ReferralStatus = S['ReferralStatus']

// GET /api/v1/admin/employers?village=&uninsured_min=&page=&page_size= (staff, admin;
// village_admin: own village): employed, unenrolled people aged 16-59 grouped by employer, most
// people first. The row with credit_code null is 未知单位 (its name says so): employed people
// whose employer the roster does not know. villages: village codes. case: the open case.
export type EmployerRow = S['Employer']

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

export type ReferralNote = S['ReferralNote']

// One case (GET /api/v1/admin/referrals items, GET and PATCH /api/v1/admin/referrals/{id}).
// referred_count: the employer's employed, unenrolled people when the case was opened.
export type ReferralCase = S['ReferralCase']

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

// ---- reasons (未参保原因分析) ----

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
