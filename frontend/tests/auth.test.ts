/** The route guard: signed-out users land on the login page, and come back where they were. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory } from 'vue-router'
import { currentUser, safeNext } from '@/api/auth'
import { api } from '@/api/client'
import { createAppRouter } from '@/router'

function respond(status: number, body: unknown = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

afterEach(() => {
  vi.unstubAllGlobals()
  currentUser.value = null
})

describe('route guard', () => {
  it('sends a signed-out user to the login page with the page to come back to', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => respond(401, { error: { code: 'unauthorized', message: 'sign in' } })))
    const router = createAppRouter(createMemoryHistory())
    await router.push('/sessions/abc')
    expect(router.currentRoute.value.name).toBe('login')
    expect(router.currentRoute.value.query.next).toBe('/sessions/abc')
  })

  it('lets a signed-in user through, and a later 401 from the API shows the login', async () => {
    const me = { username: 'alice', admin: false, auth: 'accounts' }
    const fetchMock = vi.fn(async (path: string) => (path === '/api/auth/me' ? respond(200, me) : respond(401)))
    vi.stubGlobal('fetch', fetchMock)
    const router = createAppRouter(createMemoryHistory())
    await router.push('/sessions')
    expect(router.currentRoute.value.name).toBe('sessions')
    expect(currentUser.value?.username).toBe('alice')
    await expect(api.listSessions()).rejects.toMatchObject({ status: 401 })
    await vi.waitFor(() => expect(router.currentRoute.value.name).toBe('login'))
    expect(router.currentRoute.value.query.next).toBe('/sessions')
    expect(currentUser.value).toBeNull()
  })

  it('does not show the login when the server is unreachable', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('offline'))))
    const router = createAppRouter(createMemoryHistory())
    await router.push('/sessions')
    expect(router.currentRoute.value.name).toBe('sessions')
  })

  it('sends credentials with same-origin requests only', async () => {
    const fetchMock = vi.fn(async (_path: string, _init?: RequestInit) => respond(200, { sessions: [] }))
    vi.stubGlobal('fetch', fetchMock)
    await api.listSessions()
    expect(fetchMock.mock.calls[0]?.[1]).toMatchObject({ credentials: 'same-origin' })
  })
})

describe('safeNext', () => {
  it('follows only same-origin paths', () => {
    expect(safeNext('/sessions/x?y=1')).toBe('/sessions/x?y=1')
    expect(safeNext('//evil.example/')).toBe('/')
    expect(safeNext('https://evil.example/')).toBe('/')
    expect(safeNext(undefined)).toBe('/')
  })
})

describe('a stream refused for lack of credentials', () => {
  it('sends the user to the login page like a 401 from the API', async () => {
    const { reportUnauthorized } = await import('@/api/client')
    vi.stubGlobal('fetch', vi.fn(async () => respond(200, { username: 'alice', admin: false, auth: 'accounts' })))
    const router = createAppRouter(createMemoryHistory())
    await router.push('/sessions?page=2')
    expect(router.currentRoute.value.name).toBe('sessions')
    reportUnauthorized()
    await vi.waitFor(() => expect(router.currentRoute.value.name).toBe('login'))
    expect(router.currentRoute.value.query.next).toBe('/sessions?page=2')
  })
})
