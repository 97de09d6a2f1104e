// The typed API client: openapi-fetch over the paths generated from api/openapi.yaml.
// Every request carries the in-memory access token; a 401 triggers one refresh (the HttpOnly
// cookie) and one retry, and when that fails the staff member is sent to 登录.
import createClient, { type Middleware } from 'openapi-fetch'
import type { paths } from './schema'
import { accessToken, refresh, signOut } from './session'
import { toApiError, ApiError, showError } from './errors'

const NO_REFRESH = new Set(['/api/v1/auth/staff', '/api/v1/auth/refresh', '/api/v1/auth/logout'])

// Requests to replay after a refresh, by openapi-fetch's request id (bodies can be read once).
const pending = new Map<string, Request>()

let onSignedOut: () => void = () => {}

// whenSignedOut sets what happens when the session is gone (the router sends to 登录).
export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn
}

const auth: Middleware = {
  onRequest({ request, schemaPath, id }) {
    const token = accessToken()
    if (token) request.headers.set('Authorization', `Bearer ${token}`)
    request.headers.set('Accept', request.headers.get('Accept') ?? 'application/json')
    if (!NO_REFRESH.has(schemaPath)) pending.set(id, request.clone())
    return request
  },
  async onResponse({ response, schemaPath, id }) {
    const original = pending.get(id)
    pending.delete(id)
    if (response.status !== 401 || NO_REFRESH.has(schemaPath) || !original) return response
    if (await refresh()) {
      const retry = new Request(original, { headers: new Headers(original.headers) })
      retry.headers.set('Authorization', `Bearer ${accessToken()}`)
      const again = await fetch(retry)
      if (again.status !== 401) return again
    }
    signOut()
    onSignedOut()
    return response
  },
  onError({ id }) {
    pending.delete(id)
  },
}

export const api = createClient<paths>({
  baseUrl: typeof window === 'undefined' ? 'http://localhost' : window.location.origin,
  credentials: 'same-origin',
})
api.use(auth)

type Result<T> = { data?: T; error?: unknown; response: Response }

export interface CallOptions {
  // silent: do not show the error; the caller handles it.
  silent?: boolean
}

// call unwraps an openapi-fetch result: the data, or an ApiError (shown unless silent).
export async function call<T>(p: Promise<Result<T>>, opts: CallOptions = {}): Promise<T> {
  let r: Result<T>
  try {
    r = await p
  } catch (e) {
    const err = new ApiError(0, 'NETWORK', '网络连接失败，请检查网络后重试')
    if (!opts.silent) showError(err)
    throw err
  }
  if (r.response.ok) return r.data as T
  const err = toApiError(r.response, r.error)
  if (!opts.silent && r.response.status !== 401) showError(err)
  throw err
}

// fetchBlob fetches an authenticated file with the bearer token (refreshing once on 401), and
// answers its bytes and the name from Content-Disposition; an error is shown and thrown.
export async function fetchBlob(url: string): Promise<{ blob: Blob; name: string | undefined }> {
  const doFetch = () =>
    fetch(url, { headers: { Authorization: `Bearer ${accessToken()}` }, credentials: 'same-origin' })
  let res: Response
  try {
    res = await doFetch()
    if (res.status === 401 && (await refresh())) res = await doFetch()
  } catch {
    const err = new ApiError(0, 'NETWORK', '网络连接失败，请检查网络后重试')
    showError(err)
    throw err
  }
  if (res.status === 401) {
    signOut()
    onSignedOut()
  }
  if (!res.ok) {
    let body: unknown
    try {
      body = await res.json()
    } catch {
      body = undefined
    }
    const err = toApiError(res, body)
    showError(err)
    throw err
  }
  return { blob: await res.blob(), name: fileName(res.headers.get('Content-Disposition')) }
}

// download fetches an authenticated file and saves it through a blob: URL (allowed by the
// console's CSP), naming it from Content-Disposition when present.
export async function download(url: string, fallbackName: string): Promise<void> {
  const { blob, name } = await fetchBlob(url)
  saveBlob(blob, name ?? fallbackName)
}

export function saveBlob(blob: Blob, name: string): void {
  const href = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = href
  a.download = name
  a.rel = 'noopener'
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(href), 10_000)
}

function fileName(disposition: string | null): string | undefined {
  if (!disposition) return undefined
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition)
  if (star?.[1]) return decodeURIComponent(star[1])
  const plain = /filename="?([^";]+)"?/i.exec(disposition)
  return plain?.[1]
}
