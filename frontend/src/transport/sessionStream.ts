/**
 * `SessionStream`: keeps one session's event stream flowing into a reducer, whatever happens to
 * the network. This is the I/O shell only: it opens and closes WebSockets, `EventSource`s and
 * long-poll requests, listens to `online`/`visibilitychange`, and holds ONE timer. Every
 * decision — which events to apply, when to reconnect, which transport, when a link is stale,
 * when to ack, when to probe WebSocket again — is taken by the pure `StreamCore` (`core.ts`, over
 * `follower.ts` and `ladder.ts`), which follows the same rules and numbers as the Python follower
 * and ladder, replayed from the same fixtures (see docs/protocol.md).
 *
 * Framework-free (the Vue wrapper is `composables/useSessionStream.ts`); every source of time
 * and I/O is injectable so tests drive it with fake timers and fake sockets. Every connection
 * resumes from the cursor the consumer holds (`?after=<seq>&epoch=<epoch>`), never from
 * anything the transport remembers.
 */
import type { Event, Hello, ServerFrame, SessionState } from '@/generated/wire'
import { type Apply, type CoreAction, type CoreOptions, StreamCore } from './core'
import { type EventSourceCtor, type FallbackTransport, type FetchFn, PollTransport, type Sink, SseTransport } from './fallback'
import type { LadderTransport } from './ladder'
import { ABNORMAL_CLOSURE } from './policy'
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

export interface StreamOptions extends Omit<CoreOptions, 'random'> {
  WebSocket?: typeof WebSocket
  EventSource?: EventSourceCtor
  fetch?: FetchFn
  origin?: OriginLike
  /** Milliseconds, like `Date.now()`. */
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

const KIND: Record<LadderTransport, TransportKind> = { ws: 'websocket', sse: 'sse', poll: 'poll' }

export class SessionStream {
  state: ConnectionState = 'reconnecting'
  transport: TransportKind | null = null
  private readonly core: StreamCore
  private readonly io: Required<Omit<StreamOptions, keyof CoreOptions | 'events' | 'document'>> &
    Pick<StreamOptions, 'events' | 'document'>
  private socket: WebSocket | null = null
  private probe: WebSocket | null = null
  private fallback: FallbackTransport | null = null
  private opened = false
  private timer: Timer | null = null
  private lastClose = { code: ABNORMAL_CLOSURE, reason: '' }
  private running = false

  constructor(
    private readonly sessionId: string,
    private readonly consumer: StreamConsumer,
    options: StreamOptions = {},
  ) {
    const g = globalThis as typeof globalThis & { window?: Window; document?: Document }
    const random = options.random ?? Math.random
    this.core = new StreamCore({ ...options, random })
    this.io = {
      WebSocket: options.WebSocket ?? g.WebSocket,
      EventSource: options.EventSource ?? g.EventSource,
      fetch: options.fetch ?? ((input, init) => g.fetch(input, init)),
      origin: options.origin ?? g.location,
      now: options.now ?? (() => Date.now()),
      setTimeout: options.setTimeout ?? ((fn, ms) => g.setTimeout(fn, ms)),
      clearTimeout: options.clearTimeout ?? ((t) => g.clearTimeout(t)),
      events: options.events === undefined ? (g.window ?? null) : options.events,
      document: options.document === undefined ? (g.document ?? null) : options.document,
      isOnline: options.isOnline ?? (() => g.navigator?.onLine ?? true),
    }
  }

  /** Begin streaming from the consumer's cursor. */
  start(): void {
    if (this.running) return
    this.running = true
    this.io.events?.addEventListener('online', this.onWake)
    this.io.events?.addEventListener('offline', this.onOffline)
    this.io.document?.addEventListener('visibilitychange', this.onVisibility)
    this.run((now) => this.core.start(now))
  }

  /** Stop everything: sockets, fallbacks, the timer, listeners. */
  stop(): void {
    if (!this.running) return
    this.running = false
    this.io.events?.removeEventListener('online', this.onWake)
    this.io.events?.removeEventListener('offline', this.onOffline)
    this.io.document?.removeEventListener('visibilitychange', this.onVisibility)
    if (this.timer !== null) this.io.clearTimeout(this.timer)
    this.timer = null
    this.dropConnection(1000, 'client stopped')
    this.dropSocket('probe', 1000, 'client stopped')
  }

  // --- the loop: feed the core, perform its actions, arm the one timer ----------------------

  private run(input: (now: number) => CoreAction[]): void {
    if (!this.running) return
    for (const action of input(this.io.now() / 1000)) this.perform(action)
    if (!this.running) return
    if (this.timer !== null) this.io.clearTimeout(this.timer)
    this.timer = null
    const deadline = this.core.deadline()
    if (deadline === null) return
    const delay = Math.max(0, deadline * 1000 - this.io.now())
    this.timer = this.io.setTimeout(() => {
      this.timer = null
      this.run((now) => this.core.tick(now))
    }, delay)
  }

  private perform(action: CoreAction): void {
    switch (action.type) {
      case 'replace': // the consumer took the snapshot already
        return
      case 'pong':
        if (this.socket) this.send(this.socket, { type: 'pong', ts: action.ts })
        return
      case 'connect':
        return this.connect(action.transport)
      case 'wait':
        return this.setState(this.io.isOnline() ? 'reconnecting' : 'offline')
      case 'give_up':
        this.stop()
        this.setState('offline')
        this.consumer.onTerminal?.(action.close_code, this.lastClose.reason)
        return
      case 'probe':
        this.probe = this.openSocket()
        return
      case 'drop_probe':
        return this.dropSocket('probe', 4000, 'probe timeout')
      case 'promote':
        this.dropConnection(1000, 'replaced')
        this.socket = this.probe
        this.probe = null
        this.opened = true
        this.transport = 'websocket'
        return this.setState('live')
      case 'drop_stale':
        this.dropConnection(4000, 'stale')
        return
      case 'ack':
        if (this.socket) this.send(this.socket, { type: 'ack', seq: action.seq })
        return
    }
  }

  private connect(transport: LadderTransport): void {
    this.dropConnection(4000, 'resume')
    const cursor = this.consumer.cursor()
    this.core.sync(cursor.seq, cursor.epoch)
    this.opened = false
    this.transport = KIND[transport]
    if (transport === 'ws') this.socket = this.openSocket()
    else {
      this.fallback =
        transport === 'sse'
          ? new SseTransport(this.sessionId, this.sink, this.io.EventSource)
          : new PollTransport(this.sessionId, this.sink, this.io.fetch, { waitSeconds: this.core.pollWait })
      this.fallback.start()
    }
    this.setState(this.io.isOnline() ? 'reconnecting' : 'offline')
  }

  private dropConnection(code: number, reason: string): void {
    this.dropSocket('socket', code, reason)
    this.fallback?.stop()
    this.fallback = null
  }

  // --- WebSocket ---------------------------------------------------------------------------

  private openSocket(): WebSocket {
    const ws = new this.io.WebSocket(wsUrl(this.io.origin, this.sessionId, this.consumer.cursor()))
    ws.onmessage = (m: MessageEvent) => this.onFrame(ws, m)
    ws.onclose = (e: CloseEvent) => this.onClose(ws, e)
    return ws
  }

  private onFrame(ws: WebSocket, message: MessageEvent): void {
    let frame: ServerFrame
    try {
      frame = JSON.parse(String(message.data)) as ServerFrame
    } catch {
      return
    }
    if (ws === this.probe) {
      if (frame.type === 'hello') this.run((now) => this.core.probeOpened(now, frame))
      return // a probe only matters once it says hello
    }
    if (ws !== this.socket) return
    this.run((now) => {
      this.core.traffic(now)
      switch (frame.type) {
        case 'hello':
          return this.onOpened(now, 'live', frame)
        case 'ping':
          return this.core.ping(now, frame.ts)
        case 'event':
          return this.applyAll(now, this.receive(now, [frame.event]))
        case 'events':
          // several ready events in one frame: applied one by one, exactly like 'event' frames
          return this.applyAll(now, this.receive(now, frame.events))
        case 'reset':
          this.consumer.reset(frame.snapshot)
          return this.core.reset(now, frame.snapshot)
        default:
          return [] // pong; error (its close follows and decides)
      }
    })
  }

  private onClose(ws: WebSocket, event: CloseEvent): void {
    if (ws === this.probe) {
      this.probe = null
      this.run((now) => this.core.probeFailed(now))
    } else if (ws === this.socket) {
      this.socket = null
      this.lastClose = { code: event.code, reason: event.reason }
      this.run((now) => this.core.closed(now, event.code))
    }
  }

  private onOpened(now: number, state: ConnectionState, hello?: Hello): CoreAction[] {
    this.opened = true
    this.setState(state)
    return this.core.opened(now, hello)
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

  /** The follower's verdict on `events`, from the consumer's cursor (it may have been reset). */
  private receive(now: number, events: readonly Event[], resume = true): (CoreAction | Apply<Event>)[] {
    const cursor = this.consumer.cursor()
    this.core.sync(cursor.seq, cursor.epoch)
    return this.core.events(now, events, resume)
  }

  /**
   * Fold the events the follower said are next into the consumer; the reducer may still reject
   * one (an invalid payload): then stop there and, unless `resume` is false, resume.
   */
  private applyAll(now: number, actions: (CoreAction | Apply<Event>)[], resume = true): CoreAction[] {
    const out: CoreAction[] = []
    for (const action of actions) {
      if (action.type !== 'apply') out.push(action)
      else if (!this.deliver(action.event)) return resume ? [...out, ...this.core.resume(now)] : out
    }
    return out
  }

  private deliver(event: Event): boolean {
    try {
      this.consumer.apply(event)
      return true
    } catch {
      return false
    }
  }

  // --- fallbacks report here ---------------------------------------------------------------

  private readonly sink: Sink = {
    cursor: () => this.consumer.cursor(),
    traffic: () => this.core.traffic(this.io.now() / 1000),
    ping: () =>
      this.run((now) => {
        this.core.ssePing(now) // SSE is watched from now on: re-arm the timer
        return []
      }),
    opened: (hello) => this.run((now) => (this.opened ? [] : this.onOpened(now, 'fallback', hello))),
    event: (event) => {
      // long-poll: no resume, the next request starts from the cursor anyway
      const resume = this.transport === 'sse'
      this.run((now) => this.applyAll(now, this.receive(now, [event], resume), resume))
      const after = this.consumer.cursor() // applied, or already there: go on with the page
      return after.epoch === event.epoch && after.seq >= event.seq
    },
    reset: (snapshot) => {
      this.consumer.reset(snapshot)
      this.run((now) => this.core.reset(now, snapshot))
    },
    failed: (code) => {
      this.fallback = null
      this.lastClose = { code, reason: '' }
      this.run((now) => this.core.closed(now, code))
    },
  }

  // --- wake-ups ----------------------------------------------------------------------------

  private readonly onWake = (): void => {
    this.run((now) => {
      const actions = this.core.wake(now)
      if (this.state === 'offline') this.setState(this.opened ? (this.socket ? 'live' : 'fallback') : 'reconnecting')
      return actions
    })
  }

  private readonly onOffline = (): void => {
    if (this.running) this.setState('offline')
  }

  private readonly onVisibility = (): void => {
    if (this.io.document?.visibilityState === 'visible') this.onWake()
  }

  private setState(state: ConnectionState): void {
    this.state = state
    this.consumer.onConnection?.(state, this.transport)
  }
}
