/** The Pinia store: snapshot first, then the stream from its cursor; gaps resume; resets replace. */
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Event, SessionState } from '@/generated/wire'
import { initialState } from '@/state/reducer'
import { useSessionStore } from '@/stores/session'
import { useToasts } from '@/stores/toasts'
import { FakeEventSource, FakeWebSocket, logEvent } from './fakes/network'

function statusEvent(seq: number, status: string, progress: number): Event {
  return { seq, epoch: 'e1', timestamp: 1_700_000_100 + seq, event_type: 'research_status', payload: { status, progress, stage: '', error: null } }
}

let snapshot: SessionState

beforeEach(() => {
  vi.useFakeTimers()
  setActivePinia(createPinia())
  FakeWebSocket.reset()
  FakeEventSource.reset()
  snapshot = { ...initialState('s1', 'e1', 'Tidal energy', 'en', 1_700_000_000), seq: 2, status: 'running' }
  const store = useSessionStore()
  store.configure({
    snapshot: async (id) => {
      expect(id).toBe('s1')
      return snapshot
    },
    streamOptions: {
      preference: 'auto',
      WebSocket: FakeWebSocket as unknown as typeof WebSocket,
      EventSource: FakeEventSource as unknown as typeof EventSource,
      origin: { protocol: 'http:', host: 'tk9.test' },
      random: () => 1,
      events: null,
      document: null,
    },
  })
})

afterEach(() => {
  useSessionStore().close()
  vi.useRealTimers()
})

describe('session store', () => {
  it('loads the snapshot then subscribes from its cursor', async () => {
    const store = useSessionStore()
    await store.open('s1')
    expect(store.state?.subject).toBe('Tidal energy')
    const ws = FakeWebSocket.last()
    expect(ws.params.get('after')).toBe('2')
    expect(ws.params.get('epoch')).toBe('e1')
    ws.hello('e1', 4)
    expect(store.connection).toBe('live')
    ws.serverSend({ type: 'event', event: logEvent(2) }) // already in the snapshot
    ws.serverSend({ type: 'event', event: logEvent(3) })
    expect(store.state?.seq).toBe(3)
    expect(store.applied).toBe(1)
  })

  it('resumes from state.seq on a gap', async () => {
    const store = useSessionStore()
    await store.open('s1')
    const ws = FakeWebSocket.last()
    ws.hello('e1', 9)
    ws.serverSend({ type: 'event', event: logEvent(9) })
    expect(store.state?.seq).toBe(2)
    vi.advanceTimersByTime(0)
    expect(FakeWebSocket.last().params.get('after')).toBe('2')
  })

  it('replaces its state on reset', async () => {
    const store = useSessionStore()
    await store.open('s1')
    const ws = FakeWebSocket.last()
    ws.hello('e2', 7)
    const fresh = { ...initialState('s1', 'e2', 'Tidal energy'), seq: 7 }
    ws.serverSend({ type: 'reset', reason: 'unknown_epoch', snapshot: fresh })
    expect(store.state).toEqual(fresh)
  })

  it('toasts once when the run finishes', async () => {
    const store = useSessionStore()
    await store.open('s1')
    const ws = FakeWebSocket.last()
    ws.hello('e1', 4)
    ws.serverSend({ type: 'event', event: statusEvent(3, 'completed', 100) })
    ws.serverSend({ type: 'event', event: logEvent(4) })
    expect(store.finished).toBe(true)
    expect(store.overall).toBe(100)
    const toasts = useToasts().toasts
    expect(toasts).toHaveLength(1)
    expect(toasts[0]?.kind).toBe('success')
    expect(toasts[0]?.text).toContain('Tidal energy')
  })

  it('toasts a warning, never success, when the run finishes with warnings', async () => {
    const store = useSessionStore()
    await store.open('s1')
    const ws = FakeWebSocket.last()
    ws.hello('e1', 3)
    const done = statusEvent(3, 'completed_with_warnings', 100)
    done.payload = { ...done.payload, warnings: ['The sources cover 1 of 3 key phrases', 'No translator'] }
    ws.serverSend({ type: 'event', event: done })
    expect(store.finished).toBe(true)
    expect(store.overall).toBe(100)
    const toasts = useToasts().toasts
    expect(toasts).toHaveLength(1)
    expect(toasts[0]?.kind).toBe('warning')
    expect(toasts[0]?.text).toBe('Research finished with 2 warnings: The sources cover 1 of 3 key phrases')
  })

  it('ends your own cancel with a neutral notice, and a failure toast does not repeat the error', async () => {
    const store = useSessionStore()
    await store.open('s1')
    const ws = FakeWebSocket.last()
    ws.hello('e1', 3)
    ws.serverSend({ type: 'event', event: statusEvent(3, 'cancelled', 40) })
    expect(useToasts().toasts.map((t) => [t.kind, t.text])).toEqual([['info', 'Research cancelled: Tidal energy']])
    store.reset({ ...snapshot, seq: 5, status: 'running' })
    useToasts().toasts = []
    const failed = statusEvent(6, 'failed', 40)
    failed.payload = { ...failed.payload, error: 'Browser failed: the corpus is empty: set TK9_CORPUS_DIR' }
    ws.serverSend({ type: 'event', event: failed })
    const toasts = useToasts().toasts
    expect(toasts).toHaveLength(1)
    expect(toasts[0]?.kind).toBe('error')
    expect(toasts[0]?.text).not.toContain('TK9_CORPUS_DIR')
  })

  it('reports an unknown session clearly and opens no stream', async () => {
    const store = useSessionStore()
    const { ApiError } = await import('@/api/client')
    store.configure({
      snapshot: async () => {
        throw new ApiError(404, 'session_not_found', 'no such session')
      },
    })
    await store.open('s1')
    expect(store.error).toBe('No such session.')
    expect(FakeWebSocket.instances).toHaveLength(0)
  })
})
