/**
 * Who is signed in. The login cookie is HttpOnly, so the page never sees it: it asks
 * `/api/auth/me`, and any 401 from the API sends the user to the login page (see router.ts).
 * Under `TK9_AUTH=none` (loopback only) everyone is the local admin and never sees a login.
 */
import { ref } from 'vue'
import type { Me } from '@/generated/wire'
import { ApiError, request } from './client'

export type { Me }

/** The signed-in user, once known; `null` when signed out (or not asked yet). */
export const currentUser = ref<Me | null>(null)

/** `/api/auth/me`, or `null` when not signed in. Other failures (network) are thrown. */
export async function whoAmI(): Promise<Me | null> {
  try {
    currentUser.value = await request<Me>('/api/auth/me')
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) currentUser.value = null
    else throw err
  }
  return currentUser.value
}

export async function login(username: string, password: string): Promise<Me | null> {
  await request<void>('/api/auth/login', {
    method: 'POST',
    body: JSON.stringify({ username, password }),
    headers: { 'Content-Type': 'application/json' },
  })
  return whoAmI()
}

export async function logout(): Promise<void> {
  await request<void>('/api/auth/logout', { method: 'POST' })
  currentUser.value = null
}

/** Only same-origin paths are followed after signing in (no open redirect). */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') ? next : '/'
}
