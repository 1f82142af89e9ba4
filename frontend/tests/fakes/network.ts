/**
 * Fakes of the browser's network objects, driven by the tests: a WebSocket whose server side
 * the test plays, an EventSource, and a long-poll `fetch` backed by an in-memory event log.
 */
import type { Event, SessionState } from '@/generated/wire'

type Listener = (e: unknown) => void

export class FakeWebSocket {
  static CONNECTING = 0
  static OPEN = 1
  static CLOSING = 2
  static CLOSED = 3
  static instances: FakeWebSocket[] = []
  readyState = 0
  sent: Record<string, unknown>[] = []
  closedWith: { code: number; reason: string } | null = null
  onopen: Listener | null = null
  onmessage: Listener | null = null
  onclose: Listener | null = null
  onerror: Listener | null = null

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this)
  }

  static reset(): void {
    FakeWebSocket.instances = []
  }

  static last(): FakeWebSocket {
    const ws = FakeWebSocket.instances.at(-1)
    if (!ws) throw new Error('no WebSocket opened')
    return ws
  }

  get params(): URLSearchParams {
    return new URL(this.url).searchParams
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open')
    this.sent.push(JSON.parse(data) as Record<string, unknown>)
  }

  close(code = 1000, reason = ''): void {
    this.closedWith = { code, reason }
    this.readyState = 3
  }

  // --- the server side, played by the test ---
  serverOpen(): void {
    this.readyState = 1
    this.onopen?.({})
  }

  serverSend(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) })
  }

  hello(epoch: string, head: number, heartbeatInterval = 10, heartbeatTimeout = heartbeatInterval * 2): void {
    this.serverOpen()
    this.serverSend({
      type: 'hello',
      session_id: 's1',
      epoch,
      head,
      resume_from: Number(this.params.get('after')),
      heartbeat_interval: heartbeatInterval,
      heartbeat_timeout: heartbeatTimeout,
    })
  }

  serverClose(code: number, reason = ''): void {
    this.readyState = 3
    this.onclose?.({ code, reason, wasClean: code !== 1006 })
  }
}

export class FakeEventSource {
  static instances: FakeEventSource[] = []
  readyState = 0
  closed = false
  onerror: Listener | null = null
  private listeners = new Map<string, Listener[]>()

  constructor(readonly url: string) {
    FakeEventSource.instances.push(this)
  }

  static reset(): void {
    FakeEventSource.instances = []
  }

  static last(): FakeEventSource {
    const es = FakeEventSource.instances.at(-1)
    if (!es) throw new Error('no EventSource opened')
    return es
  }

  get params(): URLSearchParams {
    return new URL(this.url, 'http://tk9.test').searchParams
  }

  addEventListener(type: string, fn: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn])
  }

  close(): void {
    this.closed = true
  }

  emit(type: string, data: object): void {
    for (const fn of this.listeners.get(type) ?? []) fn({ data: JSON.stringify(data) })
  }

  fail(): void {
    this.onerror?.({})
  }
}

/**
 * A session's event log on the "server", serving long-poll pages: a request with nothing new
 * waits (on the fake clock) until an append or until its `wait` runs out, like the real one.
 */
export class FakeLog {
  events: Event[] = []
  requests: string[] = []
  failing = false
  private waiters: (() => void)[] = []
  constructor(readonly epoch = 'e1') {}

  append(n = 1): void {
    for (let i = 0; i < n; i++) {
      const seq = this.events.length + 1
      this.events.push(logEvent(seq, this.epoch))
    }
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    this.requests.push(input)
    if (this.failing) throw new TypeError('network down')
    const params = new URL(input, 'http://tk9.test').searchParams
    const after = Number(params.get('after'))
    const wait = Number(params.get('wait') ?? 0)
    if (wait > 0 && !this.events.some((e) => e.seq > after)) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, wait * 1000)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
        init?.signal?.addEventListener('abort', () => {
          clearTimeout(timer)
          reject(new DOMException('aborted', 'AbortError'))
        })
      })
    }
    if (this.failing) throw new TypeError('network down')
    const body = {
      session_id: 's1',
      epoch: this.epoch,
      head: this.events.length,
      events: this.events.filter((e) => e.seq > after),
      reset: null as SessionState | null,
    }
    return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } })
  }
}

export function logEvent(seq: number, epoch = 'e1'): Event {
  return {
    seq,
    epoch,
    timestamp: 1_700_000_000 + seq,
    event_type: 'log',
    payload: { level: 'info', message: `line ${seq}`, agent: null },
  }
}
