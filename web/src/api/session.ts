// The signed-in staff member. The access token lives in this module's memory only: never in
// localStorage, sessionStorage or a readable cookie, so a script injected into the page cannot
// find it in storage, and closing the tab ends the session.
import { reactive, readonly } from 'vue'
import type { StaffAuth, StaffUser, Role } from './types'

// COOKIE_SESSION: login sends {"session":"cookie"}, so the server keeps the refresh token in the
// HttpOnly cookie canbao_refresh (SameSite=Strict, Path=/api/v1/auth/refresh) that page scripts
// never see; at start the app trades that cookie for an access token, so a reload stays signed in.
export const COOKIE_SESSION = true

const state = reactive({
  token: '' as string,
  user: null as StaffUser | null,
  expiresAt: 0,
})

export const session = readonly(state)

export function signIn(auth: StaffAuth): void {
  state.token = auth.token
  state.user = auth.user
  state.expiresAt = Date.now() + auth.expires_in * 1000
}

export function signOut(): void {
  state.token = ''
  state.user = null
  state.expiresAt = 0
  restored = null // the next protected page asks the server again (a logged-out cookie is refused)
}

export function accessToken(): string {
  return state.token
}

export function hasRole(roles: readonly Role[] | undefined): boolean {
  if (!roles) return true
  return !!state.user && roles.includes(state.user.role)
}

let refreshing: Promise<boolean> | null = null

// refresh trades the HttpOnly refresh cookie for a new access token, one call at a time.
// The body is an empty JSON object: the cookie carries the refresh token.
export function refresh(): Promise<boolean> {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const res = await fetch('/api/v1/auth/refresh', {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: '{}',
        })
        if (!res.ok) return false
        const body = (await res.json()) as Partial<StaffAuth>
        if (!body.token || !body.user) return false // a resident's refresh is no console session
        signIn(body as StaffAuth)
        return true
      } catch {
        return false
      } finally {
        setTimeout(() => (refreshing = null), 0)
      }
    })()
  }
  return refreshing
}

let restored: Promise<boolean> | null = null

// restore tries once per page load to resume a session from the refresh cookie.
export function restore(): Promise<boolean> {
  if (state.token) return Promise.resolve(true)
  if (!restored) restored = COOKIE_SESSION ? refresh() : Promise.resolve(false)
  return restored.then((ok) => ok && !!state.token)
}
