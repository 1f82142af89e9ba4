/**
 * `Follower`: the cursor, ack and stale decisions of one viewer's stream — the TypeScript twin of
 * the Python `tk9.protocol.follower.Follower`, with the same methods, numbers and actions, and
 * replayed from the same scenario files (`tests/fixtures/follower/*.json`,
 * `frontend/tests/follower.test.ts` and `tests/client/test_follower_fixtures.py`).
 *
 * Pure: no timers, sockets or clock; time (`now`, seconds) is passed in. Which transport to use
 * and when to reconnect is the `Ladder`'s job; `StreamCore` (`core.ts`) puts the two together.
 * - an event is applied only when it is exactly `seq + 1` of the cursor's epoch; a duplicate is
 *   dropped, a gap or another epoch means "resume from the cursor";
 * - a `reset` replaces the state and the cursor with the snapshot's;
 * - acks are cumulative and batched: at most one per `ackInterval` seconds unless `ackEvery`
 *   events wait;
 * - a connection silent for `staleAfter` (2.5 × the heartbeat interval, or interval + the
 *   server's `heartbeat_timeout` once `hello` said it) is dead: resume.
 */
import type { EventType, RunStatus } from '@/generated/wire'
import { RUN_STATUSES, TERMINAL_RUN_STATUSES } from '@/generated/wire'

export type FollowerAction =
  | { type: 'apply'; seq: number }
  | { type: 'replace'; seq: number }
  | { type: 'pong'; ts: number | null }
  | { type: 'ack'; seq: number }
  | { type: 'resume'; reason: 'gap' | 'epoch_mismatch' | 'stale' }

/** The Python `FollowerPolicy`'s cursor and ack fields, same defaults. */
export interface FollowerPolicy {
  heartbeatInterval: number
  ackInterval: number
  ackEvery: number
}

export const FOLLOWER_POLICY: FollowerPolicy = { heartbeatInterval: 15, ackInterval: 0.25, ackEvery: 50 }

/** Missed heartbeats before a link is stale, when the server's timeout is not known. */
export const STALE_FACTOR = 2.5

/** The parts of an event, a `hello` and a snapshot the follower looks at. */
export interface EventRef {
  seq: number
  epoch: string
  event_type?: EventType
  payload?: { status?: unknown }
}
export interface HelloRef {
  epoch: string
  head: number
  heartbeat_interval: number
  heartbeat_timeout: number
}
export interface SnapshotRef {
  epoch: string
  seq: number
  status: RunStatus
}

const TERMINAL = new Set<string>(TERMINAL_RUN_STATUSES)
const KNOWN = new Set<string>(RUN_STATUSES)

export class Follower {
  readonly policy: FollowerPolicy
  heartbeatInterval: number
  heartbeatTimeout: number | null = null
  /** The highest seq the server said exists (hello/page `head`) or that was applied. */
  head: number
  /** The last overall run status seen (from an event or a snapshot). */
  status: RunStatus | null = null
  duplicates = 0
  private epoch: string | null
  private seq: number
  private headEpoch: string | null
  private lastFrameAt: number | null = null
  private acked: number
  private lastAckAt: number | null = null

  constructor(o: { after?: number; epoch?: string | null; policy?: Partial<FollowerPolicy> } = {}) {
    const after = o.after ?? 0
    if (after < 0) throw new RangeError('after must be >= 0')
    this.policy = { ...FOLLOWER_POLICY, ...o.policy }
    const p = this.policy
    if (p.heartbeatInterval <= 0 || p.ackInterval < 0 || p.ackEvery < 1) {
      throw new RangeError('heartbeatInterval > 0, ackInterval >= 0 and ackEvery >= 1')
    }
    this.heartbeatInterval = p.heartbeatInterval
    this.epoch = o.epoch ?? null
    this.headEpoch = this.epoch
    this.seq = after
    this.head = after
    this.acked = after
  }

  get cursor(): { seq: number; epoch: string | null } {
    return { seq: this.seq, epoch: this.epoch }
  }

  /** The run reached a terminal status and everything the server announced is applied. */
  get finished(): boolean {
    return this.status !== null && TERMINAL.has(this.status) && this.seq >= this.head
  }

  /**
   * Take the consumer's cursor (the browser's state is the reducer's; a snapshot fetched over
   * REST may have moved it). Not in the Python follower, whose driver owns the cursor.
   */
  sync(seq: number, epoch: string | null): void {
    const e = epoch || null
    if (e === this.epoch && seq === this.seq) return
    this.epoch = e
    this.seq = seq
    this.acked = seq // as a follower created `after` this cursor
    this.noteHead(e, seq)
  }

  // --- connection lifecycle --------------------------------------------------------------

  /** A connection (any transport) opened: the watchdog counts from `now`. */
  onConnect(now: number): void {
    this.lastFrameAt = now
    this.lastAckAt = now
  }

  /** A sign of life that is not a protocol frame: resets the silence. */
  onAlive(now: number): void {
    if (this.lastFrameAt !== null) this.lastFrameAt = now
  }

  /** The connection ended: nothing to watch until the next one. */
  onClose(): void {
    this.lastFrameAt = null
  }

  // --- frames ----------------------------------------------------------------------------

  onHello(hello: HelloRef, now: number): void {
    this.lastFrameAt = now
    this.heartbeatInterval = hello.heartbeat_interval
    this.heartbeatTimeout = hello.heartbeat_timeout
    this.epoch ??= hello.epoch
    this.noteHead(hello.epoch, hello.head)
  }

  onPing(ts: number | null, now: number): FollowerAction[] {
    this.lastFrameAt = now
    return [{ type: 'pong', ts }]
  }

  onEvent(event: EventRef, now: number): FollowerAction[] {
    this.lastFrameAt = now
    if (this.epoch === null) this.epoch = event.epoch
    else if (event.epoch !== this.epoch) return [{ type: 'resume', reason: 'epoch_mismatch' }]
    if (event.seq <= this.seq) {
      this.duplicates++
      return []
    }
    if (event.seq !== this.seq + 1) return [{ type: 'resume', reason: 'gap' }]
    this.seq = event.seq
    this.noteHead(event.epoch, event.seq)
    const status = event.event_type === 'research_status' ? event.payload?.status : undefined
    if (typeof status === 'string' && KNOWN.has(status)) this.status = status as RunStatus
    return [{ type: 'apply', seq: event.seq }, ...this.ackIfDue(now)]
  }

  /** Several events in one frame: one by one, stopping at the first that needs a resume. */
  onEvents(events: readonly EventRef[], now: number): FollowerAction[] {
    const actions: FollowerAction[] = []
    for (const event of events) {
      const step = this.onEvent(event, now)
      actions.push(...step)
      if (step.some((a) => a.type === 'resume')) break
    }
    return actions
  }

  onReset(snapshot: SnapshotRef, now: number): FollowerAction[] {
    this.lastFrameAt = now
    const sameStream = snapshot.epoch === this.epoch
    this.epoch = snapshot.epoch
    this.seq = snapshot.seq
    this.acked = sameStream ? Math.min(this.acked, snapshot.seq) : 0
    this.head = this.headEpoch === snapshot.epoch ? Math.max(snapshot.seq, this.head) : snapshot.seq
    this.headEpoch = snapshot.epoch
    this.status = snapshot.status
    return [{ type: 'replace', seq: snapshot.seq }, ...this.ackIfDue(now)]
  }

  /** A long-poll page: its reset first, then its events, then its head. */
  onPage(page: { epoch: string; head: number; events: readonly EventRef[]; reset?: SnapshotRef | null }, now: number): FollowerAction[] {
    this.lastFrameAt = now
    const actions: FollowerAction[] = []
    if (page.reset) actions.push(...this.onReset(page.reset, now))
    else this.epoch ??= page.epoch
    actions.push(...this.onEvents(page.events, now))
    this.noteHead(page.epoch, page.head)
    return actions
  }

  // --- time ------------------------------------------------------------------------------

  /** Due acks, and the silent-server watchdog (`staleAfter` null: the link is not watched). */
  tick(now: number, staleAfter: number | null = this.staleAfter): FollowerAction[] {
    const actions = this.ackIfDue(now)
    if (this.lastFrameAt !== null && staleAfter !== null && now - this.lastFrameAt >= staleAfter) {
      actions.push({ type: 'resume', reason: 'stale' })
    }
    return actions
  }

  get staleAfter(): number {
    const bound = STALE_FACTOR * this.heartbeatInterval
    return this.heartbeatTimeout === null ? bound : Math.min(bound, this.heartbeatInterval + this.heartbeatTimeout)
  }

  /** Seconds since the open connection's last frame (null when none is open). */
  silentFor(now: number): number | null {
    return this.lastFrameAt === null ? null : now - this.lastFrameAt
  }

  /** Seconds until `tick` may have work (the Python `next_deadline`). */
  nextDeadline(now: number, staleAfter: number | null = this.staleAfter): number {
    const deadlines: number[] = []
    if (this.lastFrameAt !== null && staleAfter !== null) deadlines.push(this.lastFrameAt + staleAfter - now)
    if (this.seq > this.acked && this.lastAckAt !== null) deadlines.push(this.lastAckAt + this.policy.ackInterval - now)
    return deadlines.length ? Math.max(0, Math.min(...deadlines)) : this.staleAfter
  }

  /** When `tick` has work, in absolute seconds; null when only an input can change anything. */
  deadlineAt(staleAfter: number | null = this.staleAfter): number | null {
    const times: number[] = []
    if (this.lastFrameAt !== null && staleAfter !== null) times.push(this.lastFrameAt + staleAfter)
    if (this.seq > this.acked && this.lastAckAt !== null) times.push(this.lastAckAt + this.policy.ackInterval)
    return times.length ? Math.min(...times) : null
  }

  /** An ack for everything applied, due or not; null when up to date. */
  ackNow(now: number): FollowerAction | null {
    if (this.seq <= this.acked) return null
    this.acked = this.seq
    this.lastAckAt = now
    return { type: 'ack', seq: this.seq }
  }

  private noteHead(epoch: string | null, head: number): void {
    if (epoch !== this.headEpoch) {
      this.headEpoch = epoch
      this.head = head
    } else this.head = Math.max(this.head, head)
  }

  private ackIfDue(now: number): FollowerAction[] {
    const pending = this.seq - this.acked
    if (pending <= 0) return []
    const intervalPassed = this.lastAckAt === null || now - this.lastAckAt >= this.policy.ackInterval
    if (pending >= this.policy.ackEvery || intervalPassed) {
      this.acked = this.seq
      this.lastAckAt = now
      return [{ type: 'ack', seq: this.seq }]
    }
    return []
  }
}
