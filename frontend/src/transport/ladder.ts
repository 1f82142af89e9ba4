/**
 * Which transport the stream uses and when it reconnects: the fallback ladder, pure (no timers,
 * no sockets, no clock). A port of the Python `tk9.protocol.ladder` — same rules, same numbers
 * — and both replay the same scripted scenarios in `tests/fixtures/ladder/*.json`
 * (`tests/ladder.test.ts` here, `tests/client/test_ladder_fixtures.py` there).
 *
 * Fed what happened to the connection with the time (`now`, seconds), it returns actions;
 * `deadline()` says when it next wants `tick()`, so the I/O shell (`sessionStream.ts`) needs one
 * timer. The rules:
 * - Backoff: the n-th reconnect in a row waits a delay uniform in [c/2, c], c = min(10 s,
 *   0.25 s × 2^(n-1)); a connection that opened (`hello`, a first long-poll page) resets n. A
 *   terminal close code gives up.
 * - Down (preference `auto` only): WebSocket → SSE after 3 WebSocket failures in a row, or at
 *   once when the upgrade was refused; SSE → long-poll after 2 SSE failures. A failure is a
 *   connection that ended without opening or went stale; one that opened then closed resets it.
 * - Up: on SSE or long-poll, a WebSocket probe opens beside the stream every 15 s (30 s, 60 s
 *   after failed probes); one that opens within 10 s is promoted and the fallback stops.
 * - Wake-ups (online, tab visible) cut a backoff short and run the probe at once.
 * - A gap reopens the same transport at once (`resume`); asking for a transport pins it (`use`).
 */
import { shouldReconnect, type TransportPreference } from './policy'

export type LadderTransport = 'ws' | 'sse' | 'poll'
export type ConnectReason = 'start' | 'retry' | 'fallback' | 'resume' | 'wake' | 'switch'

export interface LadderPolicy {
  backoffBase: number
  backoffCap: number
  wsFailuresBeforeFallback: number
  sseFailuresBeforePoll: number
  probeInterval: number
  probeTimeout: number
}

export const DEFAULT_LADDER_POLICY: Readonly<LadderPolicy> = Object.freeze({
  backoffBase: 0.25,
  backoffCap: 10,
  wsFailuresBeforeFallback: 3,
  sseFailuresBeforePoll: 2,
  probeInterval: 15,
  probeTimeout: 10,
})

export type LadderAction =
  | { type: 'connect'; transport: LadderTransport; reason: ConnectReason }
  | { type: 'wait'; until: number }
  | { type: 'give_up'; close_code: number }
  | { type: 'probe' }
  | { type: 'promote' }
  | { type: 'drop_probe' }

/** Delay in seconds before the `attempt`-th reconnect in a row (from 1); `random` in [0, 1). */
export function backoffDelay(attempt: number, random: number, base: number, cap: number): number {
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt - 1, 30))
  return ceiling / 2 + (random * ceiling) / 2
}

type Phase = 'idle' | 'connecting' | 'open' | 'waiting' | 'stopped'

export class Ladder {
  preference: TransportPreference
  readonly policy: LadderPolicy
  transport: LadderTransport
  phase: Phase = 'idle'
  /** Reconnects in a row without an open connection (drives the backoff). */
  attempt = 0
  /** Failures in a row of the current transport (drives the way down). */
  failures = 0
  probeFailures = 0
  private waitUntil: number | null = null
  private probeAt: number | null = null
  private probeDeadline: number | null = null

  constructor(
    preference: TransportPreference = 'auto',
    policy: Partial<LadderPolicy> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.preference = preference
    this.policy = { ...DEFAULT_LADDER_POLICY, ...policy }
    this.transport = preference === 'auto' ? 'ws' : preference
  }

  get onFallback(): boolean {
    return this.transport !== 'ws' && this.preference === 'auto'
  }

  /** Whether a probe WebSocket is open and waiting for its `hello`. */
  get probing(): boolean {
    return this.probeDeadline !== null
  }

  // --- inputs ------------------------------------------------------------------------------

  start(now: number): LadderAction[] {
    this.phase = 'connecting'
    return this.connect(now, this.transport, 'start')
  }

  /** The current connection opened (`hello`, or a first long-poll page). */
  opened(_now: number): LadderAction[] {
    if (this.phase === 'connecting') {
      this.phase = 'open'
      this.attempt = 0
    }
    return []
  }

  /** The current connection ended; `refused`: the WebSocket upgrade got plain HTTP. */
  closed(now: number, code: number, refused = false): LadderAction[] {
    if (this.phase !== 'connecting' && this.phase !== 'open') return []
    if (!shouldReconnect(code)) {
      this.phase = 'stopped'
      this.cancelProbe()
      return [{ type: 'give_up', close_code: code }]
    }
    if (refused && this.transport === 'ws' && this.preference === 'auto') return this.connect(now, 'sse', 'fallback')
    return this.retry(now, this.phase === 'connecting')
  }

  /** The current connection went silent past the stale bound (the shell dropped it). */
  stale(now: number): LadderAction[] {
    if (this.phase !== 'connecting' && this.phase !== 'open') return []
    return this.retry(now, true)
  }

  /** A gap or an epoch change: reopen the same transport from the cursor, at once. */
  resume(_now: number): LadderAction[] {
    if (this.phase !== 'connecting' && this.phase !== 'open') return []
    this.phase = 'connecting'
    return [{ type: 'connect', transport: this.transport, reason: 'resume' }]
  }

  /** Pin `transport` and go there now, from the cursor. */
  use(now: number, transport: LadderTransport): LadderAction[] {
    if (this.phase === 'stopped') return []
    const dropped: LadderAction[] = this.probeDeadline !== null ? [{ type: 'drop_probe' }] : []
    this.preference = transport
    this.cancelProbe()
    this.waitUntil = null
    this.attempt = 0
    return [...this.connect(now, transport, 'switch'), ...dropped]
  }

  /** The network came back or the page became visible: do not wait out the backoff. */
  wake(now: number): LadderAction[] {
    if (this.phase === 'waiting') {
      this.attempt = 0
      this.waitUntil = null
      this.phase = 'connecting'
      return [{ type: 'connect', transport: this.transport, reason: 'wake' }]
    }
    if (this.probeAt !== null) {
      this.probeAt = null
      return this.startProbe(now)
    }
    return []
  }

  probeOpened(_now: number): LadderAction[] {
    if (this.probeDeadline === null || this.phase === 'stopped') return []
    this.probeDeadline = null
    this.transport = 'ws'
    this.phase = 'open'
    this.attempt = 0
    this.failures = 0
    this.probeFailures = 0
    this.waitUntil = null
    return [{ type: 'promote' }]
  }

  probeFailed(now: number): LadderAction[] {
    if (this.probeDeadline === null) return []
    this.probeDeadline = null
    this.probeFailures++
    this.scheduleProbe(now)
    return []
  }

  /** Time passed: a backoff that ended, a probe due, or a probe past its deadline. */
  tick(now: number): LadderAction[] {
    const actions: LadderAction[] = []
    if (this.waitUntil !== null && now >= this.waitUntil) {
      this.waitUntil = null
      this.phase = 'connecting'
      actions.push({ type: 'connect', transport: this.transport, reason: 'retry' })
    }
    if (this.probeDeadline !== null && now >= this.probeDeadline) {
      this.probeDeadline = null
      this.probeFailures++
      actions.push({ type: 'drop_probe' })
      this.scheduleProbe(now)
    }
    if (this.probeAt !== null && now >= this.probeAt) {
      this.probeAt = null
      actions.push(...this.startProbe(now))
    }
    return actions
  }

  /** When `tick` next has work, in seconds (null: only an input can change anything). */
  deadline(): number | null {
    const times = [this.waitUntil, this.probeAt, this.probeDeadline].filter((t): t is number => t !== null)
    return times.length ? Math.min(...times) : null
  }

  // --- rules -------------------------------------------------------------------------------

  private retry(now: number, failed: boolean): LadderAction[] {
    this.failures = failed ? this.failures + 1 : 0
    const lower = this.lower()
    if (lower !== null) return this.connect(now, lower, 'fallback')
    this.attempt++
    const p = this.policy
    this.phase = 'waiting'
    this.waitUntil = now + backoffDelay(this.attempt, this.random(), p.backoffBase, p.backoffCap)
    return [{ type: 'wait', until: this.waitUntil }]
  }

  private lower(): LadderTransport | null {
    if (this.preference !== 'auto') return null
    if (this.transport === 'ws' && this.failures >= this.policy.wsFailuresBeforeFallback) return 'sse'
    if (this.transport === 'sse' && this.failures >= this.policy.sseFailuresBeforePoll) return 'poll'
    return null
  }

  private connect(now: number, transport: LadderTransport, reason: ConnectReason): LadderAction[] {
    if (transport !== this.transport) this.failures = 0
    this.transport = transport
    this.phase = 'connecting'
    const actions: LadderAction[] = [{ type: 'connect', transport, reason }]
    if (transport === 'ws') {
      if (this.probeDeadline !== null) actions.push({ type: 'drop_probe' })
      this.cancelProbe()
    } else if (this.onFallback && this.probeAt === null && this.probeDeadline === null) {
      this.scheduleProbe(now)
    }
    return actions
  }

  private scheduleProbe(now: number): void {
    if (!this.onFallback || this.phase === 'stopped') return
    this.probeAt = now + this.policy.probeInterval * 2 ** Math.min(this.probeFailures, 2)
  }

  private startProbe(now: number): LadderAction[] {
    if (!this.onFallback || this.phase === 'stopped') return []
    this.probeDeadline = now + this.policy.probeTimeout
    return [{ type: 'probe' }]
  }

  private cancelProbe(): void {
    this.probeAt = null
    this.probeDeadline = null
  }
}
