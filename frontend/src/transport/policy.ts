/**
 * Which close codes end the subscription (mirrors `tk9.errors.should_reconnect`), what an HTTP
 * status stands for, and how a transport may be forced. The backoff and the fallback ladder are
 * in `ladder.ts`.
 */

/** Standard close codes that mean "the client sent something it must not send again". */
const TERMINAL_STANDARD = new Set([1003, 1007, 1008, 1009])

/** Whether a WebSocket closed with `code` may be reopened (clean or unclean closes alike). */
export function shouldReconnect(code: number): boolean {
  if (TERMINAL_STANDARD.has(code)) return false
  return !(code >= 4400 && code <= 4499)
}

/**
 * The close code an HTTP status stands for, so one policy covers every transport (mirrors
 * `tk9.client.link.close_code_for_status`): 401, 404 and 422 are terminal, other 4xx too except
 * 408 and 429; anything else (5xx, a proxy away) is "try again later".
 */
export function closeCodeForStatus(status: number): number {
  if (status === 401) return 4401
  if (status === 404) return 4404
  if (status === 422) return 4422
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return 4400
  return 1013
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
