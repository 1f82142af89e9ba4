/**
 * The fallback transports used when WebSocket is blocked or stale: Server-Sent Events, then
 * HTTP long-poll. Both subscribe from the same cursor as the WebSocket would, and report into a
 * `Sink` owned by `SessionStream`; they decide nothing (no retry, no timer): the pure
 * `StreamCore` does, from what the sink reports.
 */
import type { Event, Hello, SessionState } from '@/generated/wire'
import type { Cursor } from './urls'
import { ABNORMAL_CLOSURE, closeCodeForStatus } from './policy'
import { pollUrl, sseUrl } from './urls'

/** What a transport reports to its owner. */
export interface Sink {
  cursor(): Cursor
  /** Any traffic at all (feeds the watchdog). */
  traffic(): void
  /** An SSE `ping` event: the server's heartbeat is visible on this stream. */
  ping(): void
  /** The transport is delivering (first message / page received). */
  opened(hello?: Hello): void
  /** Apply one event; `false` means it was refused (a gap): the owner resumes from `cursor()`. */
  event(event: Event): boolean
  reset(snapshot: SessionState): void
  /** The transport ended, with the close code its failure stands for (1006: it just broke). */
  failed(code: number): void
}

export interface FallbackTransport {
  readonly kind: 'sse' | 'poll'
  start(): void
  stop(): void
}

export type EventSourceCtor = new (url: string) => EventSource
export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>

/** SSE: one EventSource per attempt; closed on error, and the owner decides what follows. */
export class SseTransport implements FallbackTransport {
  readonly kind = 'sse'
  private source: EventSource | null = null

  constructor(
    private readonly sessionId: string,
    private readonly sink: Sink,
    private readonly EventSourceImpl: EventSourceCtor,
  ) {}

  start(): void {
    this.stop()
    const source = new this.EventSourceImpl(sseUrl(this.sessionId, this.sink.cursor()))
    this.source = source
    const alive = (): boolean => this.source === source
    source.addEventListener('hello', (m) => {
      if (!alive()) return
      this.sink.traffic()
      this.sink.opened(JSON.parse((m as MessageEvent<string>).data) as Hello)
    })
    source.addEventListener('event', (m) => {
      if (!alive()) return
      this.sink.traffic()
      this.sink.event(JSON.parse((m as MessageEvent<string>).data) as Event)
    })
    source.addEventListener('events', (m) => {
      // several consecutive events (a replay, a burst): the WebSocket `events` frame, applied
      // one by one like `event` messages; a refused one (a gap) ends it, the owner resumes
      if (!alive()) return
      this.sink.traffic()
      const frame = JSON.parse((m as MessageEvent<string>).data) as { events: Event[] }
      for (const event of frame.events) if (!alive() || !this.sink.event(event)) return
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
      this.sink.ping()
    })
    source.onerror = () => {
      if (!alive()) return
      this.stop()
      this.sink.failed(ABNORMAL_CLOSURE) // EventSource does not say why
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
        if (!response.ok) {
          this.generation++
          this.sink.failed(closeCodeForStatus(response.status))
          return
        }
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
        this.sink.failed(ABNORMAL_CLOSURE)
        return
      }
    }
  }
}
