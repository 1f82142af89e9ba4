/**
 * `StreamCore`: every decision of the browser's follower, pure — no timers, sockets or clock.
 * The I/O shell (`sessionStream.ts`) feeds it what happened, with the time in seconds, performs
 * the actions it returns and sets one timer for `deadline()`.
 *
 * It wraps the transport `Ladder` (backoff, WebSocket → SSE → long-poll and back; shared with
 * Python and fixture-tested) and adds what the Python `tk9.protocol.follower.Follower` does
 * beside it, with the same numbers:
 * - the stale bound: no traffic for 2.5 × the heartbeat interval, or interval + the server's
 *   `heartbeat_timeout` once `hello` said it (25 s by default), means a dead link. SSE is only
 *   watched once it sent a `ping` event (keep-alive comments are invisible to `EventSource`); a
 *   long-poll request is dead after its own wait + 10 s;
 * - cumulative acks: one per 0.25 s, or at once when 50 applied events wait;
 * - waking up (network back, tab visible) with a link silent past the bound: it is dead, drop
 *   it and reconnect now, without counting a failure.
 */
import type { Hello } from '@/generated/wire'
import { Ladder, type LadderAction, type LadderPolicy, type LadderTransport } from './ladder'
import { ABNORMAL_CLOSURE, type TransportPreference } from './policy'

export type CoreAction = LadderAction | { type: 'ack' } | { type: 'drop_stale' }

export interface CoreOptions {
  preference?: TransportPreference
  ladder?: Partial<LadderPolicy>
  /** Heartbeat interval in seconds assumed until `hello` says otherwise. */
  heartbeatInterval?: number
  /** Missed heartbeats before a link is stale (when the server's timeout is not known). */
  staleFactor?: number
  /** Seconds the server may hold a long-poll request. */
  pollWait?: number
  random?: () => number
}

/** The Python `FollowerPolicy` defaults: `ack_interval`, `ack_every`, `heartbeat_interval`. */
export const ACK_INTERVAL = 0.25
export const ACK_EVERY = 50
export const HEARTBEAT_INTERVAL = 15
export const STALE_FACTOR = 2.5

export class StreamCore {
  readonly ladder: Ladder
  heartbeatInterval: number
  heartbeatTimeout: number | null = null
  private readonly staleFactor: number
  readonly pollWait: number
  /** Time of the current connection's last traffic; null while there is none. */
  private lastTraffic: number | null = null
  private sseHeartbeats = false
  private pendingAcks = 0
  private ackAt: number | null = null

  constructor(o: CoreOptions = {}) {
    this.ladder = new Ladder(o.preference ?? 'auto', o.ladder ?? {}, o.random ?? Math.random)
    this.heartbeatInterval = o.heartbeatInterval ?? HEARTBEAT_INTERVAL
    this.staleFactor = o.staleFactor ?? STALE_FACTOR
    this.pollWait = o.pollWait ?? 25
  }

  get transport(): LadderTransport {
    return this.ladder.transport
  }

  start(now: number): CoreAction[] {
    return this.follow(now, this.ladder.start(now))
  }

  /** The current connection opened: WebSocket or SSE `hello`, or a first long-poll page. */
  opened(now: number, hello?: Hello): CoreAction[] {
    if (hello) this.learn(hello)
    this.traffic(now)
    return this.ladder.opened(now)
  }

  /** Any frame or message on the current connection. */
  traffic(now: number): void {
    if (this.lastTraffic !== null) this.lastTraffic = now
  }

  /** An SSE `ping` event: from now on a silent SSE stream is a dead one. */
  ssePing(now: number): void {
    this.sseHeartbeats = true
    this.traffic(now)
  }

  /** An event (or reset) applied from the WebSocket: an ack is due soon or now. */
  applied(now: number): CoreAction[] {
    this.pendingAcks++
    if (this.pendingAcks >= ACK_EVERY) return this.flushAck()
    this.ackAt ??= now + ACK_INTERVAL
    return []
  }

  closed(now: number, code: number): CoreAction[] {
    this.disconnect()
    return this.follow(now, this.ladder.closed(now, code))
  }

  /** A gap or a rejected event: reopen from the consumer's cursor. */
  resume(now: number): CoreAction[] {
    return this.follow(now, this.ladder.resume(now))
  }

  probeOpened(now: number, hello: Hello): CoreAction[] {
    const actions = this.ladder.probeOpened(now)
    if (actions.length) {
      this.learn(hello)
      this.connectedAt(now)
    }
    return actions
  }

  probeFailed(now: number): CoreAction[] {
    return this.ladder.probeFailed(now)
  }

  wake(now: number): CoreAction[] {
    const actions: CoreAction[] = []
    const bound = this.staleAfter()
    if (this.lastTraffic !== null && bound !== null && now - this.lastTraffic > bound) {
      actions.push({ type: 'drop_stale' }, ...this.closed(now, ABNORMAL_CLOSURE))
    }
    return [...actions, ...this.follow(now, this.ladder.wake(now))]
  }

  tick(now: number): CoreAction[] {
    const actions: CoreAction[] = []
    if (this.ackAt !== null && now >= this.ackAt) actions.push(...this.flushAck())
    const bound = this.staleAfter()
    if (this.lastTraffic !== null && bound !== null && now - this.lastTraffic >= bound) {
      this.disconnect()
      actions.push({ type: 'drop_stale' }, ...this.follow(now, this.ladder.stale(now)))
    }
    return [...actions, ...this.follow(now, this.ladder.tick(now))]
  }

  /** When `tick` next has work, in seconds; null when only an input can change anything. */
  deadline(): number | null {
    const bound = this.staleAfter()
    const stale = this.lastTraffic !== null && bound !== null ? this.lastTraffic + bound : null
    const times = [this.ladder.deadline(), this.ackAt, stale].filter((t): t is number => t !== null)
    return times.length ? Math.min(...times) : null
  }

  /** Silence (seconds) after which the current connection is dead; null: not watched. */
  staleAfter(): number | null {
    if (this.transport === 'poll') return this.pollWait + 10
    if (this.transport === 'sse' && !this.sseHeartbeats) return null
    const byFactor = this.staleFactor * this.heartbeatInterval
    return this.heartbeatTimeout === null ? byFactor : Math.min(byFactor, this.heartbeatInterval + this.heartbeatTimeout)
  }

  private learn(hello: Hello): void {
    if (hello.heartbeat_interval > 0) this.heartbeatInterval = hello.heartbeat_interval
    if (hello.heartbeat_timeout > 0) this.heartbeatTimeout = hello.heartbeat_timeout
  }

  private flushAck(): CoreAction[] {
    this.pendingAcks = 0
    this.ackAt = null
    return [{ type: 'ack' }]
  }

  private disconnect(): void {
    this.lastTraffic = null
    this.pendingAcks = 0
    this.ackAt = null
  }

  private connectedAt(now: number): void {
    this.disconnect()
    this.lastTraffic = now
    this.sseHeartbeats = false
  }

  /** Track the connection the ladder's actions open or end. */
  private follow(now: number, actions: LadderAction[]): CoreAction[] {
    for (const action of actions) {
      if (action.type === 'connect') this.connectedAt(now)
      else if (action.type === 'wait' || action.type === 'give_up') this.disconnect()
    }
    return actions
  }
}
