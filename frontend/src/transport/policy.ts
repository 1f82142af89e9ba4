/**
 * Which close codes end the subscription (mirrors `tk9.errors.should_reconnect`), what an HTTP
 * status stands for, and how a transport may be forced. The backoff and the fallback ladder are
 * in `ladder.ts`.
 */

import { CLOSE_CODES, TERMINAL_STANDARD_CLOSE_CODES } from '@/generated/wire'

/** Standard close codes that mean "the client sent something it must not send again". */
const TERMINAL_STANDARD = new Set(TERMINAL_STANDARD_CLOSE_CODES)

/** The close code of a connection that just broke (no close frame), as browsers report it. */
export const ABNORMAL_CLOSURE = 1006

/** Whether a WebSocket closed with `code` may be reopened (clean or unclean closes alike). */
export function shouldReconnect(code: number): boolean {
  if (TERMINAL_STANDARD.has(code)) return false
  return !(code >= CLOSE_CODES.MALFORMED_FRAME && code <= 4499)
}

/**
 * The close code an HTTP status stands for, so one policy covers every transport (mirrors
 * `tk9.client.link.close_code_for_status`): 401, 404 and 422 are terminal, other 4xx too except
 * 408 and 429; anything else (5xx, a proxy away) is "try again later".
 */
export function closeCodeForStatus(status: number): number {
  if (status === 401) return CLOSE_CODES.UNAUTHORIZED
  if (status === 404) return CLOSE_CODES.SESSION_NOT_FOUND
  if (status === 422) return CLOSE_CODES.BAD_CURSOR
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return CLOSE_CODES.MALFORMED_FRAME
  return CLOSE_CODES.TRY_AGAIN_LATER
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
