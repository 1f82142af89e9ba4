/**
 * The fallback transports used when WebSocket is blocked or stale: Server-Sent Events, then
 * HTTP long-poll. Both subscribe from the same cursor as the WebSocket would, and report into a
 * `Sink` owned by `SessionStream`, which decides when to move on or go back to WebSocket.
 */
import type { Event, Hello, SessionState } from '@/generated/wire'
import type { Cursor } from './urls'
import { pollUrl, sseUrl } from './urls'

/** What a transport reports to its owner. */
export interface Sink {
  cursor(): Cursor
  /** Any traffic at all (feeds the watchdog). */
  traffic(): void
  /** The transport is delivering (first message / page received). */
  opened(hello?: Hello): void
  /** Apply one event; `false` means the stream must restart from `cursor()` (gap). */
  event(event: Event): boolean
  reset(snapshot: SessionState): void
  /** The transport failed; `opened` says whether it had delivered anything first. */
  failed(opened: boolean): void
}

export interface FallbackTransport {
  readonly kind: 'sse' | 'poll'
  /** Whether the server sends heartbeats this transport can see (so silence means stale). */
  readonly heartbeats: boolean
  start(): void
  stop(): void
}

export type EventSourceCtor = new (url: string) => EventSource
export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>

/** SSE: one EventSource per attempt; we close it on error and let the owner retry from the cursor. */
export class SseTransport implements FallbackTransport {
  readonly kind = 'sse'
  /** Set once an `event: ping` arrives: keep-alive *comments* are invisible to EventSource. */
  heartbeats = false
  private source: EventSource | null = null
  private delivering = false

  constructor(
    private readonly sessionId: string,
    private readonly sink: Sink,
    private readonly EventSourceImpl: EventSourceCtor,
  ) {}

  start(): void {
    this.stop()
    this.delivering = false
    const source = new this.EventSourceImpl(sseUrl(this.sessionId, this.sink.cursor()))
    this.source = source
    const alive = (): boolean => this.source === source
    source.addEventListener('hello', (m) => {
      if (!alive()) return
      this.sink.traffic()
      this.delivering = true
      this.sink.opened(JSON.parse((m as MessageEvent<string>).data) as Hello)
    })
    source.addEventListener('event', (m) => {
      if (!alive()) return
      this.sink.traffic()
      const ok = this.sink.event(JSON.parse((m as MessageEvent<string>).data) as Event)
      if (!ok) this.start() // resume from the cursor the reducer holds
    })
    source.addEventListener('reset', (m) => {
      if (!alive()) return
      this.sink.traffic()
      // The server sends the Reset frame `{type, reason, snapshot}`; accept a bare snapshot too.
      const data = JSON.parse((m as MessageEvent<string>).data) as SessionState | { snapshot: SessionState }
      this.sink.reset('snapshot' in data ? data.snapshot : data)
    })
    source.addEventListener('ping', () => {
      if (!alive()) return
      this.heartbeats = true
      this.sink.traffic()
    })
    source.onerror = () => {
      if (!alive()) return
      const opened = this.delivering
      this.stop()
      this.sink.failed(opened)
    }
  }

  stop(): void {
    this.source?.close()
    this.source = null
  }
}

export interface PollOptions {
  /** Seconds the server may hold a request open (default 25). */
  waitSeconds?: number
}

/** Long-poll: `GET /events?after=&wait=` in a loop; each page's events are applied in order. */
export class PollTransport implements FallbackTransport {
  readonly kind = 'poll'
  readonly heartbeats = false
  private controller: AbortController | null = null
  private generation = 0

  constructor(
    private readonly sessionId: string,
    private readonly sink: Sink,
    private readonly fetchImpl: FetchFn,
    private readonly opts: PollOptions = {},
  ) {}

  start(): void {
    this.stop()
    const generation = ++this.generation
    this.controller = new AbortController()
    void this.loop(generation, this.controller.signal)
  }

  stop(): void {
    this.generation++
    this.controller?.abort()
    this.controller = null
  }

  private async loop(generation: number, signal: AbortSignal): Promise<void> {
    let opened = false
    const wait = this.opts.waitSeconds ?? 25
    while (generation === this.generation) {
      try {
        const response = await this.fetchImpl(pollUrl(this.sessionId, this.sink.cursor(), wait), {
          signal,
          headers: { Accept: 'application/json' },
        })
        if (generation !== this.generation) return
        if (!response.ok) throw new Error(`long-poll HTTP ${response.status}`)
        const page = (await response.json()) as {
          reset: SessionState | null
          events: Event[]
        }
        if (generation !== this.generation) return
        this.sink.traffic()
        if (!opened) {
          opened = true
          this.sink.opened()
        }
        if (page.reset) this.sink.reset(page.reset)
        for (const event of page.events) {
          if (!this.sink.event(event)) break // next request starts from the reducer's cursor
        }
      } catch {
        if (generation !== this.generation) return
        this.generation++
        this.sink.failed(opened)
        return
      }
    }
  }
}
