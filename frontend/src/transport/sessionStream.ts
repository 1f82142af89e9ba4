/**
 * `SessionStream`: keeps one session's event stream flowing into a reducer, whatever happens to
 * the network. Framework-free (the Vue wrapper is `composables/useSessionStream.ts`); every
 * source of time and I/O is injectable so tests drive it with fake timers and fake sockets.
 *
 * Behaviour (defaults in `StreamOptions`):
 * - WebSocket first: answers server `ping` with `pong`, sends a cumulative `ack` after applying
 *   events (every 250 ms or 50 events), resumes with `?after=<seq>&epoch=<epoch>` from the
 *   cursor the consumer holds — never from anything the transport remembers.
 * - Reconnects after every close that is not terminal (`shouldReconnect`), clean or not, with
 *   jittered exponential backoff capped at 10 s; `online` and `visibilitychange` retry at once.
 * - Watchdog: no frame for 2.5 × `heartbeat_interval` (from `hello`), or interval + the server's
 *   `heartbeat_timeout` when that is sooner, means the socket is stale
 *   (a silent black hole or a proxy eating frames): drop it and fall back to SSE; SSE that never
 *   delivers falls back to long-poll. While on a fallback, a WebSocket probe runs periodically and
 *   the stream switches back as soon as one says `hello`.
 * - A gap reported by the consumer restarts the current transport from the consumer's cursor; a
 *   `reset` hands the snapshot over to replace the state.
 */
import type { Event, Hello, ServerFrame, SessionState } from '@/generated/wire'
import { type EventSourceCtor, type FallbackTransport, type FetchFn, PollTransport, type Sink, SseTransport } from './fallback'
import { backoffDelay, shouldReconnect, type TransportPreference } from './policy'
import { type Cursor, type OriginLike, wsUrl } from './urls'

export type ConnectionState = 'live' | 'reconnecting' | 'fallback' | 'offline'
export type TransportKind = 'websocket' | 'sse' | 'poll'

/** What the stream feeds; the consumer owns the state and therefore the cursor. */
export interface StreamConsumer {
  cursor(): Cursor
  /** Apply one event; throw (e.g. the reducer's `GapError`) to make the stream resume. */
  apply(event: Event): void
  /** Replace the whole state with a snapshot the server sent instead of a replay. */
  reset(snapshot: SessionState): void
  onConnection?(state: ConnectionState, transport: TransportKind | null): void
  /** A terminal close: the stream has stopped and will not reconnect. */
  onTerminal?(code: number, reason: string): void
}

type Timer = ReturnType<typeof setTimeout>

export interface StreamOptions {
  preference?: TransportPreference
  /** Heartbeat interval in ms assumed until `hello` says otherwise (default 15 000). */
  heartbeatIntervalMs?: number
  /** Missed heartbeats before the socket is declared stale (default 2.5). */
  staleFactor?: number
  /** Consecutive WebSocket attempts without `hello` before falling back (default 3). */
  wsFailuresBeforeFallback?: number
  /** Consecutive SSE attempts that delivered nothing before long-poll (default 2). */
  sseFailuresBeforePoll?: number
  /** Interval between WebSocket probes while on a fallback (default 15 000 ms). */
  probeIntervalMs?: number
  backoffBaseMs?: number
  backoffCapMs?: number
  pollWaitSeconds?: number
  WebSocket?: typeof WebSocket
  EventSource?: EventSourceCtor
  fetch?: FetchFn
  origin?: OriginLike
  now?: () => number
  random?: () => number
  setTimeout?: (fn: () => void, ms: number) => Timer
  clearTimeout?: (t: Timer) => void
  /** Where `online` / `offline` are heard (default `window`). */
  events?: Pick<Window, 'addEventListener' | 'removeEventListener'> | null
  /** Where `visibilitychange` is heard and `visibilityState` read (default `document`). */
  document?: Pick<Document, 'addEventListener' | 'removeEventListener' | 'visibilityState'> | null
  isOnline?: () => boolean
}

const ACK_EVERY_MS = 250
const ACK_EVERY_EVENTS = 50

export class SessionStream {
  state: ConnectionState = 'reconnecting'
  transport: TransportKind | null = null
  private readonly o: Required<Omit<StreamOptions, 'events' | 'document'>> & Pick<StreamOptions, 'events' | 'document'>
  private socket: WebSocket | null = null
  private probe: WebSocket | null = null
  private fallback: FallbackTransport | null = null
  private hello = new WeakSet<WebSocket>()
  private heartbeatMs: number
  /** The server's dead-peer timeout from `hello`, when known. */
  private heartbeatTimeoutMs: number | null = null
  private lastTraffic = 0
  private attempt = 0
  private wsFailures = 0
  private fbFailures = 0
  private probeFailures = 0
  private pendingAcks = 0
  private timers: Record<'reconnect' | 'watchdog' | 'ack' | 'probe' | 'probeDeadline' | 'fallback', Timer | null> = {
    reconnect: null,
    watchdog: null,
    ack: null,
    probe: null,
    probeDeadline: null,
    fallback: null,
  }
  private running = false

  constructor(
    private readonly sessionId: string,
    private readonly consumer: StreamConsumer,
    options: StreamOptions = {},
  ) {
    const g = globalThis as typeof globalThis & { window?: Window; document?: Document }
    this.o = {
      preference: options.preference ?? 'auto',
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 15_000,
      staleFactor: options.staleFactor ?? 2.5,
      wsFailuresBeforeFallback: options.wsFailuresBeforeFallback ?? 3,
      sseFailuresBeforePoll: options.sseFailuresBeforePoll ?? 2,
      probeIntervalMs: options.probeIntervalMs ?? 15_000,
      backoffBaseMs: options.backoffBaseMs ?? 500,
      backoffCapMs: options.backoffCapMs ?? 10_000,
      pollWaitSeconds: options.pollWaitSeconds ?? 25,
      WebSocket: options.WebSocket ?? g.WebSocket,
      EventSource: options.EventSource ?? g.EventSource,
      fetch: options.fetch ?? ((input, init) => g.fetch(input, init)),
      origin: options.origin ?? g.location,
      now: options.now ?? (() => Date.now()),
      random: options.random ?? Math.random,
      setTimeout: options.setTimeout ?? ((fn, ms) => g.setTimeout(fn, ms)),
      clearTimeout: options.clearTimeout ?? ((t) => g.clearTimeout(t)),
      events: options.events === undefined ? g.window ?? null : options.events,
      document: options.document === undefined ? g.document ?? null : options.document,
      isOnline: options.isOnline ?? (() => g.navigator?.onLine ?? true),
    }
    this.heartbeatMs = this.o.heartbeatIntervalMs
  }

  /** Begin streaming from the consumer's cursor. */
  start(): void {
    if (this.running) return
    this.running = true
    this.o.events?.addEventListener('online', this.onWake)
    this.o.events?.addEventListener('offline', this.onOffline)
    this.o.document?.addEventListener('visibilitychange', this.onVisibility)
    if (this.o.preference === 'sse' || this.o.preference === 'poll') this.startFallback(this.o.preference)
    else this.connect()
    this.armWatchdog()
  }

  /** Stop everything: sockets, fallbacks, timers, listeners. */
  stop(): void {
    if (!this.running) return
    this.running = false
    this.o.events?.removeEventListener('online', this.onWake)
    this.o.events?.removeEventListener('offline', this.onOffline)
    this.o.document?.removeEventListener('visibilitychange', this.onVisibility)
    for (const key of Object.keys(this.timers) as (keyof typeof this.timers)[]) this.clear(key)
    this.dropSocket('socket', 1000, 'client stopped')
    this.dropSocket('probe', 1000, 'client stopped')
    this.stopFallback()
  }

  // --- WebSocket ---------------------------------------------------------------------------

  private connect(): void {
    this.clear('reconnect')
    this.lastTraffic = this.o.now()
    this.socket = this.open()
    this.transport = 'websocket'
  }

  private open(): WebSocket {
    const ws = new this.o.WebSocket(wsUrl(this.o.origin, this.sessionId, this.consumer.cursor()))
    ws.onmessage = (m: MessageEvent) => this.onFrame(ws, m)
    ws.onclose = (e: CloseEvent) => this.onClose(ws, e)
    return ws
  }

  private onFrame(ws: WebSocket, message: MessageEvent): void {
    if (ws !== this.socket && ws !== this.probe) return
    let frame: ServerFrame
    try {
      frame = JSON.parse(String(message.data)) as ServerFrame
    } catch {
      return
    }
    if (frame.type === 'hello') return this.onHello(ws, frame)
    if (ws !== this.socket) return // a probe only matters once it says hello
    this.lastTraffic = this.o.now()
    switch (frame.type) {
      case 'ping':
        this.send(ws, { type: 'pong', ts: frame.ts })
        break
      case 'event':
        if (this.deliver(frame.event)) this.scheduleAck()
        else this.restartSocket()
        break
      case 'events':
        // several ready events in one frame: applied one by one, exactly like 'event' frames
        if (frame.events.every((event) => this.deliver(event))) this.scheduleAck()
        else this.restartSocket()
        break
      case 'reset':
        this.consumer.reset(frame.snapshot)
        this.scheduleAck()
        break
      default:
        break // pong; error (its close follows and decides)
    }
  }

  private onHello(ws: WebSocket, hello: Hello): void {
    if (ws === this.probe) {
      // The probe works: it becomes the stream and the fallback stops. Its replay starts at the
      // cursor of probe time; events the fallback applied since are ignored as duplicates.
      this.clear('probeDeadline')
      this.probe = null
      this.stopFallback()
      this.dropSocket('socket', 1000, 'replaced')
      this.socket = ws
      this.probeFailures = 0
    }
    if (ws !== this.socket) return
    this.hello.add(ws)
    this.lastTraffic = this.o.now()
    this.learnHeartbeat(hello)
    this.attempt = 0
    this.wsFailures = 0
    this.transport = 'websocket'
    this.setState('live')
  }

  private onClose(ws: WebSocket, event: CloseEvent): void {
    if (ws === this.probe) {
      this.probe = null
      this.clear('probeDeadline')
      this.probeFailures++
      this.scheduleProbe()
      return
    }
    if (ws !== this.socket) return
    this.socket = null
    this.clear('ack')
    if (!shouldReconnect(event.code)) {
      this.stop()
      this.setState('offline')
      this.consumer.onTerminal?.(event.code, event.reason)
      return
    }
    if (!this.hello.has(ws)) this.wsFailures++
    if (this.o.preference === 'auto' && this.wsFailures >= this.o.wsFailuresBeforeFallback) {
      this.startFallback('sse')
    } else {
      this.scheduleReconnect()
    }
  }

  private scheduleReconnect(delayMs?: number): void {
    this.clear('reconnect')
    this.setState(this.o.isOnline() ? 'reconnecting' : 'offline')
    const delay = delayMs ?? this.nextDelay()
    this.timers.reconnect = this.o.setTimeout(() => {
      this.timers.reconnect = null
      if (this.running) this.connect()
    }, delay)
  }

  private nextDelay(): number {
    return backoffDelay(this.attempt++, this.o.random, { baseMs: this.o.backoffBaseMs, capMs: this.o.backoffCapMs })
  }

  /** A gap (or a rejected event): reopen from the consumer's cursor right away. */
  private restartSocket(): void {
    this.dropSocket('socket', 4000, 'resume')
    this.scheduleReconnect(0)
  }

  private dropSocket(which: 'socket' | 'probe', code: number, reason: string): void {
    const ws = this[which]
    if (!ws) return
    this[which] = null
    ws.onmessage = null
    ws.onclose = null
    try {
      ws.close(code, reason)
    } catch {
      /* already closing */
    }
  }

  private send(ws: WebSocket, frame: object): void {
    if (ws.readyState === 1) ws.send(JSON.stringify(frame))
  }

  private scheduleAck(): void {
    this.pendingAcks++
    if (this.pendingAcks >= ACK_EVERY_EVENTS) return this.flushAck()
    if (this.timers.ack === null) this.timers.ack = this.o.setTimeout(() => this.flushAck(), ACK_EVERY_MS)
  }

  private flushAck(): void {
    this.clear('ack')
    this.pendingAcks = 0
    if (this.socket) this.send(this.socket, { type: 'ack', seq: this.consumer.cursor().seq })
  }

  private deliver(event: Event): boolean {
    try {
      this.consumer.apply(event)
      return true
    } catch {
      return false
    }
  }

  // --- watchdog ----------------------------------------------------------------------------

  private armWatchdog(): void {
    const tick = Math.max(250, Math.min(1000, this.heartbeatMs / 4))
    this.timers.watchdog = this.o.setTimeout(() => {
      this.timers.watchdog = null
      if (!this.running) return
      this.checkStale()
      this.armWatchdog()
    }, tick)
  }

  /**
   * A silent socket found by the periodic tick means a black hole on the path: fall back. One
   * found on waking up (sleep, background tab, network change) is just dead: reconnect at once.
   */
  private checkStale(waking = false): void {
    const silent = this.o.now() - this.lastTraffic
    if (this.socket && silent > this.staleMs()) {
      this.dropSocket('socket', 4000, 'stale')
      if (waking) this.scheduleReconnect(0)
      else if (this.o.preference === 'auto') this.startFallback('sse')
      else this.scheduleReconnect()
    } else if (this.fallback?.heartbeats && silent > this.staleMs()) {
      this.restartFallback(0) // an SSE stream that sends pings went quiet
    } else if (this.fallback?.kind === 'poll' && silent > (this.o.pollWaitSeconds + 10) * 1000) {
      this.restartFallback(0) // a long-poll request hung past its own deadline
    }
  }

  // --- fallbacks and the way back ----------------------------------------------------------

  private readonly sink: Sink = {
    cursor: () => this.consumer.cursor(),
    traffic: () => {
      this.lastTraffic = this.o.now()
    },
    opened: (hello) => {
      if (hello) this.learnHeartbeat(hello)
      this.fbFailures = 0
      this.attempt = 0
      this.setState('fallback')
    },
    event: (event) => this.deliver(event),
    reset: (snapshot) => this.consumer.reset(snapshot),
    failed: (opened) => {
      if (opened) this.fbFailures = 0
      else this.fbFailures++
      const kind = this.fallback?.kind
      if (kind === 'sse' && this.o.preference !== 'sse' && this.fbFailures >= this.o.sseFailuresBeforePoll) {
        this.startFallback('poll')
        return
      }
      this.setState(this.o.isOnline() ? 'reconnecting' : 'offline')
      this.restartFallback(this.nextDelay())
    },
  }

  private startFallback(kind: 'sse' | 'poll'): void {
    this.clear('reconnect')
    this.dropSocket('socket', 4000, 'fallback')
    this.stopFallback()
    this.fbFailures = 0
    this.lastTraffic = this.o.now()
    this.fallback =
      kind === 'sse'
        ? new SseTransport(this.sessionId, this.sink, this.o.EventSource)
        : new PollTransport(this.sessionId, this.sink, this.o.fetch, { waitSeconds: this.o.pollWaitSeconds })
    this.transport = kind
    this.setState('reconnecting')
    this.fallback.start()
    if (this.o.preference === 'auto') this.scheduleProbe()
  }

  private restartFallback(delay: number): void {
    this.clear('fallback')
    this.timers.fallback = this.o.setTimeout(() => {
      this.timers.fallback = null
      if (!this.running || !this.fallback) return
      this.lastTraffic = this.o.now()
      this.fallback.start()
    }, delay)
  }

  private stopFallback(): void {
    this.clear('fallback')
    this.clear('probe')
    this.fallback?.stop()
    this.fallback = null
  }

  private scheduleProbe(delayMs?: number): void {
    if (!this.fallback || this.o.preference !== 'auto' || this.probe) return
    this.clear('probe')
    const base = this.o.probeIntervalMs
    const delay = delayMs ?? Math.min(base * 2 ** Math.min(this.probeFailures, 2), 4 * base)
    this.timers.probe = this.o.setTimeout(() => {
      this.timers.probe = null
      this.runProbe()
    }, delay)
  }

  private runProbe(): void {
    if (!this.running || !this.fallback || this.probe) return
    this.probe = this.open()
    this.timers.probeDeadline = this.o.setTimeout(() => {
      this.timers.probeDeadline = null
      this.dropSocket('probe', 4000, 'probe timeout')
      this.probeFailures++
      this.scheduleProbe()
    }, this.staleMs())
  }

  private learnHeartbeat(hello: Hello): void {
    if (hello.heartbeat_interval > 0) this.heartbeatMs = hello.heartbeat_interval * 1000
    if (hello.heartbeat_timeout > 0) this.heartbeatTimeoutMs = hello.heartbeat_timeout * 1000
  }

  /**
   * Silence that means a dead link: `staleFactor` heartbeat intervals, or sooner, interval +
   * the server's own timeout once `hello` told us (25 s with the defaults, against 37.5 s).
   */
  private staleMs(): number {
    const byFactor = this.o.staleFactor * this.heartbeatMs
    if (this.heartbeatTimeoutMs === null) return byFactor
    return Math.min(byFactor, this.heartbeatMs + this.heartbeatTimeoutMs)
  }

  // --- wake-ups ----------------------------------------------------------------------------

  private readonly onWake = (): void => {
    if (!this.running) return
    if (this.timers.reconnect !== null) {
      this.attempt = 0
      this.connect() // was waiting out a backoff: try now
    } else if (this.fallback && this.o.preference === 'auto') {
      this.scheduleProbe(0)
    }
    if (this.state === 'offline') {
      if (this.socket && this.hello.has(this.socket)) this.setState('live')
      else if (this.socket || this.timers.reconnect === null) this.setState('reconnecting')
    }
    this.checkStale(true)
  }

  private readonly onOffline = (): void => {
    if (this.running) this.setState('offline')
  }

  private readonly onVisibility = (): void => {
    if (this.o.document?.visibilityState === 'visible') this.onWake()
  }

  private setState(state: ConnectionState): void {
    this.state = state
    this.consumer.onConnection?.(state, this.transport)
  }

  private clear(key: keyof typeof this.timers): void {
    const t = this.timers[key]
    if (t !== null) this.o.clearTimeout(t)
    this.timers[key] = null
  }
}
