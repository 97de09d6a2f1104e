// The volunteer's outbox of door-to-door visits. Every visit is written to IndexedDB first,
// with a client-made UUID client_id, and then sent; while the phone is offline (or the server
// fails) visits wait there, survive a reload, and go as one batch
// POST /api/v1/admin/visits {"visits": [...]} when the network returns ('online' event, and
// retries with back-off). Never twice: the server answers a known client_id with the stored
// visit, and the batch's Idempotency-Key is made from its body, so a retried batch replays.
// Visits are kept per staff account: another volunteer signing in on the same phone never sends
// them under their own name.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb'
import { reactive, readonly } from 'vue'
import { api } from '../api/client'
import { ApiError, toApiError } from '../api/errors'
import { session } from '../api/session'
import type { VisitInput } from '../api/types'
import { contentKey } from './ids'

export interface QueuedVisit {
  visit: VisitInput
  user_id: number
  name: string // the person's name, for the list of waiting visits
  queued_at: number
  error?: string // the server refused it (it is kept aside, not retried)
}

interface OutboxDB extends DBSchema {
  visits: { key: string; value: QueuedVisit; indexes: { by_user: number } }
}

const BATCH = 200 // the API's limit per batch
const BACKOFF = [2_000, 5_000, 15_000, 30_000, 60_000]

const state = reactive({
  waiting: 0, // this account's visits not yet on the server
  refused: [] as QueuedVisit[],
  syncing: false,
  lastError: '',
  lastSyncedAt: 0,
})
export const outbox = readonly(state)

let dbp: Promise<IDBPDatabase<OutboxDB>> | null = null
function db() {
  if (!dbp) {
    dbp = openDB<OutboxDB>('canbao-console', 1, {
      upgrade(d) {
        const s = d.createObjectStore('visits', { keyPath: 'visit.client_id' })
        s.createIndex('by_user', 'user_id')
      },
    })
  }
  return dbp
}

function me(): number {
  return session.user?.id ?? 0
}

async function mine(): Promise<QueuedVisit[]> {
  const all = await (await db()).getAllFromIndex('visits', 'by_user', me())
  return all.sort((a, b) => a.queued_at - b.queued_at)
}

export async function refreshCount(): Promise<void> {
  const all = await mine()
  state.waiting = all.filter((v) => !v.error).length
  state.refused = all.filter((v) => v.error)
}

// enqueue stores a visit and tries to send it at once.
export async function enqueue(visit: VisitInput, name: string): Promise<void> {
  await (await db()).put('visits', { visit, user_id: me(), name, queued_at: Date.now() })
  await refreshCount()
  void sync()
}

export async function discard(clientId: string): Promise<void> {
  await (await db()).delete('visits', clientId)
  await refreshCount()
}

let timer: ReturnType<typeof setTimeout> | undefined
let attempt = 0
let running: Promise<void> | null = null

function retryLater() {
  clearTimeout(timer)
  const wait = BACKOFF[Math.min(attempt, BACKOFF.length - 1)]!
  attempt++
  timer = setTimeout(() => void sync(), wait)
}

// sync sends this account's waiting visits, one batch of up to 200 at a time.
export function sync(): Promise<void> {
  if (!running) running = doSync().finally(() => (running = null))
  return running
}

async function doSync(): Promise<void> {
  if (!me()) return
  state.syncing = true
  try {
    for (;;) {
      const batch = (await mine()).filter((v) => !v.error).slice(0, BATCH)
      if (batch.length === 0) {
        attempt = 0
        clearTimeout(timer)
        break
      }
      if (!navigator.onLine) {
        state.lastError = '当前离线，联网后自动提交'
        break // the 'online' event resumes
      }
      const visits = batch.map((v) => v.visit)
      const key = await contentKey('visits', JSON.stringify(visits))
      let res: Awaited<ReturnType<typeof post>>
      try {
        res = await post(visits, key)
      } catch {
        state.lastError = '网络连接失败，稍后自动重试'
        retryLater()
        break
      }
      if (res.response.ok) {
        const d = await db()
        const tx = d.transaction('visits', 'readwrite')
        await Promise.all([...batch.map((v) => tx.store.delete(v.visit.client_id)), tx.done])
        state.lastError = ''
        state.lastSyncedAt = Date.now()
        attempt = 0
        await refreshCount()
        continue
      }
      const err = toApiError(res.response, res.error)
      const bad = badIndex(err)
      if (bad !== undefined && batch[bad]) {
        // One refused visit stops the whole batch (all or nothing): set it aside and send the rest.
        const d = await db()
        await d.put('visits', { ...batch[bad], error: err.message })
        await refreshCount()
        continue
      }
      state.lastError = `${err.message}，稍后自动重试`
      if (err.status === 401 || err.status === 403) break // signed out: the next sign-in resumes
      retryLater()
      break
    }
  } finally {
    state.syncing = false
  }
}

function post(visits: VisitInput[], key: string) {
  return api.POST('/api/v1/admin/visits', {
    params: { header: { 'Idempotency-Key': key } },
    body: { visits },
  })
}

// badIndex finds which visit of a batch the server refused: `field` like visits[3].resident_id.
function badIndex(err: ApiError): number | undefined {
  if (err.status !== 400 && err.status !== 404 && err.status !== 422) return undefined
  const m = /^visits\[(\d+)\]/.exec(err.field ?? '')
  return m ? Number(m[1]) : undefined
}

let started = false
// start is called once a volunteer is signed in: count what waits, send it, and send again
// whenever the browser comes back online.
export function start(): void {
  void refreshCount().then(() => sync())
  if (started) return
  started = true
  window.addEventListener('online', () => {
    attempt = 0
    void sync()
  })
  window.addEventListener('offline', () => (state.lastError = '当前离线，联网后自动提交'))
}
