/**
 * URLs of a session's endpoints, always on the page's own origin: the bundle carries no
 * build-time host, so the same build works behind any proxy, on http and https (`wss:`).
 */

export interface OriginLike {
  protocol: string
  host: string
}

export interface Cursor {
  epoch: string
  seq: number
}

function query(cursor: Cursor, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams({ after: String(cursor.seq), ...extra })
  if (cursor.epoch) params.set('epoch', cursor.epoch)
  return params.toString()
}

const enc = encodeURIComponent

export function wsUrl(origin: OriginLike, sessionId: string, cursor: Cursor): string {
  const scheme = origin.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${origin.host}/ws/sessions/${enc(sessionId)}?${query(cursor)}`
}

export function sseUrl(sessionId: string, cursor: Cursor): string {
  return `/api/sessions/${enc(sessionId)}/stream?${query(cursor)}`
}

export function pollUrl(sessionId: string, cursor: Cursor, waitSeconds: number): string {
  return `/api/sessions/${enc(sessionId)}/events?${query(cursor, { wait: String(waitSeconds) })}`
}
