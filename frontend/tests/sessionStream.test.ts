/**
 * The transport: reconnect and backoff, watchdog, SSE and long-poll fallback, the way back to
 * WebSocket, gaps and resets — with fake timers, a fake WebSocket, EventSource and fetch.
 * Every scenario ends with the exactly-once check: the seqs applied are 1..N, in order.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Event, SessionState } from '@/generated/wire'
import { applyEvent, initialState } from '@/state/reducer'
import { backoffDelay } from '@/transport/ladder'
import { closeCodeForStatus, shouldReconnect } from '@/transport/policy'
import { type ConnectionState, SessionStream, type StreamOptions } from '@/transport/sessionStream'
import { FakeEventSource, FakeLog, FakeWebSocket, logEvent } from './fakes/network'

class Viewer {
  state: SessionState = initialState('s1', 'e1')
  applied: number[] = []
  states: ConnectionState[] = []
  terminal: number | null = null

  consumer = {
    cursor: () => ({ epoch: this.state.epoch, seq: this.state.seq }),
    apply: (event: Event) => {
      const next = applyEvent(this.state, event)
      if (next !== this.state) this.applied.push(event.seq)
      this.state = next
    },
    reset: (snapshot: SessionState) => {
      this.state = snapshot
    },
    onConnection: (s: ConnectionState) => this.states.push(s),
    onTerminal: (code: number) => {
      this.terminal = code
    },
  }

  expectExactlyOnce(n: number): void {
    expect(this.applied).toEqual(Array.from({ length: n }, (_, i) => i + 1))
    expect(this.state.seq).toBe(n)
  }
}

const win = new EventTarget()
const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' as DocumentVisibilityState })
let viewer: Viewer
let stream: SessionStream
let log: FakeLog

function makeStream(opts: StreamOptions = {}): SessionStream {
  stream = new SessionStream('s1', viewer.consumer, {
    WebSocket: FakeWebSocket as unknown as typeof WebSocket,
    EventSource: FakeEventSource as unknown as StreamOptions['EventSource'],
    fetch: log.fetch,
    origin: { protocol: 'http:', host: 'tk9.test' },
    random: () => 1,
    events: win as unknown as Window,
    document: doc as unknown as Document,
    isOnline: () => true,
    ...opts,
  })
  stream.start()
  return stream
}

function sendEvents(ws: FakeWebSocket, from: number, to: number): void {
  for (let seq = from; seq <= to; seq++) ws.serverSend({ type: 'event', event: logEvent(seq) })
}

beforeEach(() => {
  vi.useFakeTimers()
  FakeWebSocket.reset()
  FakeEventSource.reset()
  viewer = new Viewer()
  log = new FakeLog()
})

afterEach(() => {
  stream?.stop()
  vi.useRealTimers()
})

describe('policy', () => {
  it('reconnects on every close except the terminal ones', () => {
    for (const code of [1000, 1001, 1006, 1011, 1012, 1013, 4000, 4500, 4508]) expect(shouldReconnect(code)).toBe(true)
    for (const code of [1003, 1007, 1008, 1009, 4400, 4404, 4422, 4499]) expect(shouldReconnect(code)).toBe(false)
  })

  it('backs off exponentially with jitter from 0.25 s, capped at 10 s (as the Python follower)', () => {
    const hi = [1, 2, 3, 4, 5, 6, 7, 13].map((a) => backoffDelay(a, 1, 0.25, 10))
    expect(hi).toEqual([0.25, 0.5, 1, 2, 4, 8, 10, 10])
    const lo = [1, 7, 13].map((a) => backoffDelay(a, 0, 0.25, 10))
    expect(lo).toEqual([0.125, 5, 5])
  })

  it('maps HTTP statuses onto close codes: 401/404/422 and most 4xx are terminal', () => {
    expect([401, 404, 422, 400, 408, 429, 500, 502].map(closeCodeForStatus)).toEqual([4401, 4404, 4422, 4400, 1013, 1013, 1013, 1013])
  })
})

describe('WebSocket', () => {
  it('subscribes from the cursor, answers pings and acks cumulatively', () => {
    viewer.state = { ...viewer.state, seq: 0 }
    makeStream()
    const ws = FakeWebSocket.last()
    expect(ws.url).toBe('ws://tk9.test/ws/sessions/s1?after=0&epoch=e1')
    ws.hello('e1', 3)
    expect(stream.state).toBe('live')
    sendEvents(ws, 1, 3)
    ws.serverSend({ type: 'ping', ts: 42.5 })
    expect(ws.sent).toContainEqual({ type: 'pong', ts: 42.5 })
    expect(ws.sent.filter((f) => f.type === 'ack')).toEqual([])
    vi.advanceTimersByTime(250)
    expect(ws.sent.filter((f) => f.type === 'ack')).toEqual([{ type: 'ack', seq: 3 }])
    sendEvents(ws, 4, 53) // 50 events: ack at once
    expect(ws.sent.filter((f) => f.type === 'ack').at(-1)).toEqual({ type: 'ack', seq: 53 })
    viewer.expectExactlyOnce(53)
  })

  it('uses wss: on an https page', () => {
    makeStream({ origin: { protocol: 'https:', host: 'example.org:8443' } })
    expect(FakeWebSocket.last().url.startsWith('wss://example.org:8443/ws/sessions/s1?')).toBe(true)
  })

  it.each([1000, 1001, 1006, 1012, 4500])('resumes after close %i from the applied cursor', (code) => {
    makeStream()
    const first = FakeWebSocket.last()
    first.hello('e1', 0)
    sendEvents(first, 1, 4)
    first.serverClose(code)
    expect(stream.state).toBe('reconnecting')
    vi.advanceTimersByTime(249)
    expect(FakeWebSocket.instances).toHaveLength(1)
    vi.advanceTimersByTime(1)
    const second = FakeWebSocket.last()
    expect(second).not.toBe(first)
    expect(second.params.get('after')).toBe('4')
    second.hello('e1', 6)
    sendEvents(second, 3, 6) // overlap is re-delivered and ignored
    viewer.expectExactlyOnce(6)
    expect(stream.state).toBe('live')
  })

  it('backs off with growing delays while the server stays away, and resets after hello', () => {
    makeStream({ ladder: { wsFailuresBeforeFallback: 100 } })
    const delays: number[] = []
    for (let i = 0; i < 7; i++) {
      const count = FakeWebSocket.instances.length
      FakeWebSocket.last().serverClose(1006)
      let waited = 0
      while (FakeWebSocket.instances.length === count) {
        vi.advanceTimersByTime(50)
        waited += 50
      }
      delays.push(waited)
    }
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 8000, 10000])
    FakeWebSocket.last().hello('e1', 0)
    FakeWebSocket.last().serverClose(1012)
    vi.advanceTimersByTime(250)
    expect(FakeWebSocket.instances).toHaveLength(9)
  })

  it('stops on a terminal close code', () => {
    makeStream()
    FakeWebSocket.last().hello('e1', 0)
    FakeWebSocket.last().serverClose(4404, 'session not found')
    vi.advanceTimersByTime(60_000)
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(FakeEventSource.instances).toHaveLength(0)
    expect(stream.state).toBe('offline')
    expect(viewer.terminal).toBe(4404)
  })

  it.each(['online', 'visibilitychange'])('retries at once on %s', (what) => {
    makeStream({ ladder: { wsFailuresBeforeFallback: 100 } })
    for (let i = 0; i < 5; i++) {
      FakeWebSocket.last().serverClose(1006)
      vi.advanceTimersByTime(10_000)
    }
    FakeWebSocket.last().serverClose(1006) // now waiting 10 s
    const count = FakeWebSocket.instances.length
    if (what === 'online') win.dispatchEvent(new Event('online'))
    else doc.dispatchEvent(new Event('visibilitychange'))
    expect(FakeWebSocket.instances).toHaveLength(count + 1)
  })

  it('reconnects a socket found dead on waking from sleep instead of falling back', () => {
    makeStream()
    const ws = FakeWebSocket.last()
    ws.hello('e1', 2, 10)
    sendEvents(ws, 1, 2)
    vi.setSystemTime(Date.now() + 3_600_000) // the machine slept for an hour: timers did not run
    doc.dispatchEvent(new Event('visibilitychange'))
    expect(ws.closedWith?.code).toBe(4000)
    vi.advanceTimersByTime(0)
    expect(FakeEventSource.instances).toHaveLength(0)
    const next = FakeWebSocket.last()
    expect(next).not.toBe(ws)
    expect(next.params.get('after')).toBe('2')
  })

  it('applies an events frame one by one, and resumes from the cursor on a gap inside it', () => {
    makeStream()
    const ws = FakeWebSocket.last()
    ws.hello('e1', 6)
    ws.serverSend({ type: 'events', events: [logEvent(1), logEvent(2), logEvent(3)] })
    ws.serverSend({ type: 'events', events: [logEvent(2), logEvent(3), logEvent(4)] }) // overlap
    viewer.expectExactlyOnce(4)
    ws.serverSend({ type: 'events', events: [logEvent(6)] }) // 5 is missing
    expect(ws.closedWith?.code).toBe(4000)
    vi.advanceTimersByTime(0)
    const next = FakeWebSocket.last()
    expect(next.params.get('after')).toBe('4')
    next.hello('e1', 6)
    next.serverSend({ type: 'events', events: [logEvent(5), logEvent(6)] })
    viewer.expectExactlyOnce(6)
  })

  it('resumes from the cursor at once on a gap', () => {
    makeStream()
    const ws = FakeWebSocket.last()
    ws.hello('e1', 5)
    sendEvents(ws, 1, 2)
    ws.serverSend({ type: 'event', event: logEvent(5) }) // 3 and 4 are missing
    expect(ws.closedWith?.code).toBe(4000)
    vi.advanceTimersByTime(0)
    const next = FakeWebSocket.last()
    expect(next).not.toBe(ws)
    expect(next.params.get('after')).toBe('2')
    next.hello('e1', 5)
    sendEvents(next, 3, 5)
    viewer.expectExactlyOnce(5)
  })

  it('replaces the state with the snapshot of a reset, then applies what follows', () => {
    viewer.state = { ...initialState('s1', 'old-epoch'), seq: 40 }
    makeStream()
    const ws = FakeWebSocket.last()
    expect(ws.params.get('epoch')).toBe('old-epoch')
    ws.hello('e2', 12)
    const snapshot = { ...initialState('s1', 'e2'), seq: 10, subject: 'from snapshot' }
    ws.serverSend({ type: 'reset', reason: 'unknown_epoch', snapshot })
    expect(viewer.state).toEqual(snapshot)
    ws.serverSend({ type: 'event', event: logEvent(11, 'e2') })
    ws.serverSend({ type: 'event', event: logEvent(12, 'e2') })
    expect(viewer.state.seq).toBe(12)
    expect(viewer.state.epoch).toBe('e2')
    expect(viewer.state.subject).toBe('from snapshot')
    vi.advanceTimersByTime(250)
    expect(ws.sent.filter((f) => f.type === 'ack').at(-1)).toEqual({ type: 'ack', seq: 12 })
  })
})

describe('watchdog and fallback', () => {
  it("notices a black hole as soon as the server would: interval + the server's timeout", () => {
    makeStream()
    const ws = FakeWebSocket.last()
    ws.hello('e1', 0, 15, 10) // defaults: ping every 15 s, dead 10 s after a ping -> 25 s
    sendEvents(ws, 1, 1)
    vi.advanceTimersByTime(24_000)
    expect(ws.closedWith).toBeNull()
    vi.advanceTimersByTime(2_000) // 26 s of silence, well before 2.5 x 15 = 37.5 s
    expect(ws.closedWith?.code).toBe(4000)
  })

  it('keeps a socket that hears pings, and declares a silent one stale after 2.5 intervals', () => {
    makeStream({ ladder: { wsFailuresBeforeFallback: 1 } })
    const ws = FakeWebSocket.last()
    ws.hello('e1', 0, 10, 20) // heartbeat every 10 s, timeout 20 s: stale after min(2.5 x 10, 10 + 20) = 25 s
    for (let i = 0; i < 6; i++) {
      vi.advanceTimersByTime(10_000)
      ws.serverSend({ type: 'ping', ts: i })
    }
    expect(ws.closedWith).toBeNull()
    sendEvents(ws, 1, 2)
    vi.advanceTimersByTime(24_000)
    expect(ws.closedWith).toBeNull()
    vi.advanceTimersByTime(2_000)
    expect(ws.closedWith?.code).toBe(4000)
    const es = FakeEventSource.last()
    expect(es.url).toBe('/api/sessions/s1/stream?after=2&epoch=e1')
    es.emit('hello', { type: 'hello', session_id: 's1', epoch: 'e1', head: 4, resume_from: 2, heartbeat_interval: 10, heartbeat_timeout: 20 })
    expect(stream.state).toBe('fallback')
    es.emit('event', logEvent(3))
    es.emit('event', logEvent(4))
    viewer.expectExactlyOnce(4)
  })

  it('retries a WebSocket that went stale, and moves to SSE after three stale ones in a row', () => {
    makeStream()
    for (let i = 0; i < 3; i++) {
      const ws = FakeWebSocket.last()
      ws.hello('e1', 0, 10, 20)
      vi.advanceTimersByTime(25_000)
      expect(ws.closedWith?.code).toBe(4000)
      vi.advanceTimersByTime(10_000)
    }
    expect(FakeWebSocket.instances).toHaveLength(3)
    expect(FakeEventSource.instances).toHaveLength(1)
    expect(stream.transport).toBe('sse')
  })

  it('falls back to SSE when WebSocket never opens (blocked by a proxy)', () => {
    makeStream()
    for (let i = 0; i < 3; i++) {
      FakeWebSocket.last().serverClose(1006)
      vi.advanceTimersByTime(10_000)
    }
    expect(FakeWebSocket.instances).toHaveLength(3)
    expect(FakeEventSource.instances).toHaveLength(1)
  })

  it('moves from SSE that delivers nothing to long-poll, with the same cursor', async () => {
    log.append(3)
    viewer.state = applyEvent(viewer.state, logEvent(1))
    viewer.applied.push(1)
    makeStream({ preference: 'auto', ladder: { wsFailuresBeforeFallback: 1 } })
    FakeWebSocket.last().serverClose(1006)
    FakeEventSource.last().fail()
    await vi.advanceTimersByTimeAsync(10_000)
    expect(FakeEventSource.instances).toHaveLength(2)
    FakeEventSource.last().fail()
    await vi.advanceTimersByTimeAsync(0)
    expect(log.requests[0]).toBe('/api/sessions/s1/events?after=1&wait=25&epoch=e1')
    expect(stream.state).toBe('fallback')
    expect(stream.transport).toBe('poll')
    log.append(2)
    await vi.advanceTimersByTimeAsync(0)
    viewer.expectExactlyOnce(5)
  })

  it('probes WebSocket while on a fallback and switches back when it says hello', async () => {
    makeStream({ ladder: { wsFailuresBeforeFallback: 1 } })
    const ws = FakeWebSocket.last()
    ws.hello('e1', 0, 10)
    sendEvents(ws, 1, 2)
    await vi.advanceTimersByTimeAsync(26_000) // stale -> SSE
    const es = FakeEventSource.last()
    es.emit('event', logEvent(3))
    expect(stream.transport).toBe('sse')
    await vi.advanceTimersByTimeAsync(15_000)
    const probe = FakeWebSocket.last()
    expect(probe).not.toBe(ws)
    expect(probe.params.get('after')).toBe('3')
    es.emit('event', logEvent(4)) // the fallback keeps delivering while the probe connects
    probe.hello('e1', 4, 10)
    expect(es.closed).toBe(true)
    expect(stream.state).toBe('live')
    expect(stream.transport).toBe('websocket')
    sendEvents(probe, 4, 6) // 4 was applied by SSE: ignored
    viewer.expectExactlyOnce(6)
  })

  it('keeps probing with a longer interval when probes fail', async () => {
    makeStream({ ladder: { probeInterval: 1, wsFailuresBeforeFallback: 1 } })
    FakeWebSocket.last().serverClose(1006)
    expect(FakeEventSource.instances).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(FakeWebSocket.instances).toHaveLength(2)
    FakeWebSocket.last().serverClose(1006)
    await vi.advanceTimersByTimeAsync(1_999)
    expect(FakeWebSocket.instances).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(1)
    expect(FakeWebSocket.instances).toHaveLength(3)
  })

  it('restarts an SSE stream that sent pings and then went quiet', async () => {
    makeStream({ preference: 'sse' })
    const es = FakeEventSource.last()
    es.emit('hello', { type: 'hello', session_id: 's1', epoch: 'e1', head: 0, resume_from: 0, heartbeat_interval: 10, heartbeat_timeout: 20 })
    es.emit('ping', {})
    await vi.advanceTimersByTimeAsync(24_000)
    expect(FakeEventSource.instances).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(2_100)
    expect(es.closed).toBe(true)
    expect(FakeEventSource.instances).toHaveLength(2)
  })

  it('honours a forced transport: sse never touches WebSocket, poll uses only fetch', async () => {
    makeStream({ preference: 'sse' })
    expect(FakeWebSocket.instances).toHaveLength(0)
    FakeEventSource.last().fail()
    await vi.advanceTimersByTimeAsync(1_000)
    FakeEventSource.last().fail()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(FakeWebSocket.instances).toHaveLength(0)
    expect(log.requests).toHaveLength(0)
    expect(FakeEventSource.instances.length).toBeGreaterThan(2)
    stream.stop()

    log.append(2)
    makeStream({ preference: 'poll' })
    await vi.advanceTimersByTimeAsync(0)
    expect(FakeWebSocket.instances).toHaveLength(0)
    viewer.expectExactlyOnce(2)
  })

  it('long-poll recovers from network errors with backoff and loses nothing', async () => {
    makeStream({ preference: 'poll' })
    log.append(2)
    await vi.advanceTimersByTimeAsync(0)
    log.failing = true
    log.append(1)
    await vi.advanceTimersByTimeAsync(0)
    expect(stream.state).toBe('reconnecting')
    log.append(2)
    log.failing = false
    await vi.advanceTimersByTimeAsync(10_000)
    expect(stream.state).toBe('fallback')
    viewer.expectExactlyOnce(5)
  })
})

describe('SSE reset', () => {
  it('accepts the Reset frame the server sends as an SSE reset', () => {
    makeStream({ preference: 'sse' })
    const snapshot = { ...initialState('s1', 'e9'), seq: 3 }
    FakeEventSource.last().emit('reset', { type: 'reset', reason: 'unknown_epoch', snapshot })
    expect(viewer.state).toEqual(snapshot)
    FakeEventSource.last().emit('event', logEvent(4, 'e9'))
    expect(viewer.state.seq).toBe(4)
  })
})

describe('SSE events messages', () => {
  it('applies an events message one by one, and resumes from the cursor on a gap inside it', () => {
    makeStream({ preference: 'sse' })
    const es = FakeEventSource.last()
    es.emit('hello', { type: 'hello', session_id: 's1', epoch: 'e1', head: 6, resume_from: 0, heartbeat_interval: 10, heartbeat_timeout: 20 })
    es.emit('events', { type: 'events', events: [logEvent(1), logEvent(2), logEvent(3)] })
    es.emit('events', { type: 'events', events: [logEvent(2), logEvent(3), logEvent(4)] }) // overlap
    viewer.expectExactlyOnce(4)
    es.emit('events', { type: 'events', events: [logEvent(6), logEvent(7)] }) // 5 is missing
    vi.advanceTimersByTime(1_000)
    const next = FakeEventSource.last()
    expect(next).not.toBe(es)
    expect(next.url).toBe('/api/sessions/s1/stream?after=4&epoch=e1')
    next.emit('events', { type: 'events', events: [logEvent(5), logEvent(6)] })
    viewer.expectExactlyOnce(6)
  })
})
