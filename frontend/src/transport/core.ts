/**
 * `StreamCore`: every decision of the browser's follower, pure — no timers, sockets or clock.
 * The I/O shell (`sessionStream.ts`) feeds it what happened, with the time in seconds, performs
 * the actions it returns and sets one timer for `deadline()`.
 *
 * It puts together the two halves the Python client has, each the TypeScript twin of its Python
 * one and replayed from the same fixtures:
 * - the `Follower` (`follower.ts`, `tests/fixtures/follower/`): the cursor (apply the next event,
 *   drop duplicates, resume on a gap or another epoch, take a reset's snapshot), cumulative acks
 *   (one per 0.25 s, or at once when 50 events wait) and the stale bound (no traffic for 2.5 ×
 *   the heartbeat interval, or interval + the server's `heartbeat_timeout` once `hello` said it);
 * - the transport `Ladder` (`ladder.ts`, `tests/fixtures/ladder/`): backoff, WebSocket → SSE →
 *   long-poll and back.
 *
 * What it adds is the browser's: SSE is only watched once it sent a `ping` event (keep-alive
 * comments are invisible to `EventSource`); a long-poll request is dead after its own wait +
 * 10 s; waking up (network back, tab visible) with a link silent past the bound drops it and
 * reconnects now, without counting a failure.
 */
import type { Hello } from '@/generated/wire'
import { type EventRef, Follower, type FollowerAction, type FollowerPolicy, type SnapshotRef } from './follower'
import { Ladder, type LadderAction, type LadderPolicy, type LadderTransport } from './ladder'
import { ABNORMAL_CLOSURE, type TransportPreference } from './policy'

/** What the shell must do. */
export type CoreAction = LadderAction | Exclude<FollowerAction, { type: 'resume' | 'apply' }> | { type: 'drop_stale' }

/** Fold `event` into the consumer's state: it is exactly the next one. */
export interface Apply<E> {
  type: 'apply'
  seq: number
  event: E
}

export interface CoreOptions {
  preference?: TransportPreference
  ladder?: Partial<LadderPolicy>
  follower?: Partial<FollowerPolicy>
  /** Seconds the server may hold a long-poll request. */
  pollWait?: number
  random?: () => number
}

export class StreamCore {
  readonly ladder: Ladder
  readonly follower: Follower
  readonly pollWait: number
  private sseHeartbeats = false
  private connected = false

  constructor(o: CoreOptions = {}) {
    this.ladder = new Ladder(o.preference ?? 'auto', o.ladder ?? {}, o.random ?? Math.random)
    this.follower = new Follower({ policy: o.follower })
    this.pollWait = o.pollWait ?? 25
  }

  get transport(): LadderTransport {
    return this.ladder.transport
  }

  start(now: number): CoreAction[] {
    return this.follow(now, this.ladder.start(now))
  }

  /** The consumer's cursor, before a connection opens from it (the consumer owns the state). */
  sync(seq: number, epoch: string): void {
    this.follower.sync(seq, epoch)
  }

  /** The current connection opened: WebSocket or SSE `hello`, or a first long-poll page. */
  opened(now: number, hello?: Hello): CoreAction[] {
    if (hello) this.follower.onHello(hello, now)
    else this.traffic(now)
    return this.ladder.opened(now)
  }

  /** Any frame or message on the current connection. */
  traffic(now: number): void {
    this.follower.onAlive(now)
  }

  /** An SSE `ping` event: from now on a silent SSE stream is a dead one. */
  ssePing(now: number): void {
    this.sseHeartbeats = true
    this.traffic(now)
  }

  /** A WebSocket `ping`: answer it. */
  ping(now: number, ts: number | null): CoreAction[] {
    return this.follower.onPing(ts, now) as CoreAction[]
  }

  /**
   * Events from the current connection, in order: `apply` the ones that are next, `ack` when due;
   * a gap or another epoch resumes from the cursor (unless `resume` is false: a long-poll's next
   * request starts from the cursor anyway).
   */
  events<E extends EventRef>(now: number, events: readonly E[], resume = true): (CoreAction | Apply<E>)[] {
    const bySeq = new Map(events.map((e) => [e.seq, e]))
    const out: (CoreAction | Apply<E>)[] = []
    for (const action of this.follower.onEvents(events, now)) {
      if (action.type === 'apply') out.push({ ...action, event: bySeq.get(action.seq) as E })
      else if (action.type !== 'resume') out.push(action)
      else if (resume) out.push(...this.resume(now))
    }
    return out
  }

  /** A `reset`: the consumer takes the snapshot; its cursor is the follower's now. */
  reset(now: number, snapshot: SnapshotRef): CoreAction[] {
    return this.follower.onReset(snapshot, now).filter((a) => a.type !== 'resume') as CoreAction[]
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
      this.connectedAt(now)
      this.follower.onHello(hello, now)
    }
    return actions
  }

  probeFailed(now: number): CoreAction[] {
    return this.ladder.probeFailed(now)
  }

  wake(now: number): CoreAction[] {
    const actions: CoreAction[] = []
    const bound = this.staleAfter()
    const silent = this.connected ? this.follower.silentFor(now) : null
    if (silent !== null && bound !== null && silent > bound) {
      actions.push({ type: 'drop_stale' }, ...this.closed(now, ABNORMAL_CLOSURE))
    }
    return [...actions, ...this.follow(now, this.ladder.wake(now))]
  }

  tick(now: number): CoreAction[] {
    const actions: CoreAction[] = []
    for (const action of this.follower.tick(now, this.connected ? this.staleAfter() : null)) {
      if (action.type !== 'resume') actions.push(action as CoreAction)
      else {
        this.disconnect()
        actions.push({ type: 'drop_stale' }, ...this.follow(now, this.ladder.stale(now)))
      }
    }
    return [...actions, ...this.follow(now, this.ladder.tick(now))]
  }

  /** When `tick` next has work, in seconds; null when only an input can change anything. */
  deadline(): number | null {
    const times = [this.ladder.deadline(), this.follower.deadlineAt(this.connected ? this.staleAfter() : null)]
    const known = times.filter((t): t is number => t !== null)
    return known.length ? Math.min(...known) : null
  }

  /** Silence (seconds) after which the current connection is dead; null: not watched. */
  staleAfter(): number | null {
    if (this.transport === 'poll') return this.pollWait + 10
    if (this.transport === 'sse' && !this.sseHeartbeats) return null
    return this.follower.staleAfter
  }

  private disconnect(): void {
    this.connected = false
    this.follower.onClose()
  }

  private connectedAt(now: number): void {
    this.connected = true
    this.sseHeartbeats = false
    this.follower.onConnect(now)
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
