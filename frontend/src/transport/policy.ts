/**
 * Pure reconnect policy of the transport: which close codes end the subscription, and how long
 * to wait before the next attempt. Mirrors `tk9.errors.should_reconnect`.
 */

/** Standard close codes that mean "the client sent something it must not send again". */
const TERMINAL_STANDARD = new Set([1003, 1007, 1008, 1009])

/** Whether a WebSocket closed with `code` may be reopened (clean or unclean closes alike). */
export function shouldReconnect(code: number): boolean {
  if (TERMINAL_STANDARD.has(code)) return false
  return !(code >= 4400 && code <= 4499)
}

export interface BackoffOptions {
  /** First delay ceiling in ms (default 500). */
  baseMs?: number
  /** Ceiling of every delay in ms (default 10 000). */
  capMs?: number
}

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential growth capped at `capMs`,
 * with "equal jitter" — a uniformly random delay in [ceiling/2, ceiling] — so that many tabs
 * dropped by one proxy reload do not come back in lock-step, yet none retries in a hot loop.
 */
export function backoffDelay(attempt: number, random: () => number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 500
  const cap = opts.capMs ?? 10_000
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30))
  return ceiling / 2 + random() * (ceiling / 2)
}

/** How a stream may be forced to one transport (`?transport=` or localStorage `tk9.transport`). */
export type TransportPreference = 'auto' | 'ws' | 'sse' | 'poll'

export function parsePreference(value: string | null | undefined): TransportPreference {
  switch (value) {
    case 'ws':
    case 'websocket':
      return 'ws'
    case 'sse':
      return 'sse'
    case 'poll':
    case 'long-poll':
      return 'poll'
    default:
      return 'auto'
  }
}
