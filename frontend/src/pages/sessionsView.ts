/**
 * The sessions page's view of the list: filtered by text, status and language, then sorted —
 * client-side over what `GET /api/sessions` returned (the paged API will take this over).
 */
import type { SessionSummary } from '@/api/client'
import { RUN_STATUSES } from '@/state/reducer'

export type SortKey = 'newest' | 'oldest' | 'subject' | 'status'

export const SORTS: ReadonlyArray<{ key: SortKey; label: string }> = [
  { key: 'newest', label: 'Newest first' },
  { key: 'oldest', label: 'Oldest first' },
  { key: 'subject', label: 'Subject A–Z' },
  { key: 'status', label: 'Status' },
]

export interface ViewQuery {
  text: string
  status: string
  language: string
  sort: SortKey
}

const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true })

export function sessionsView(sessions: readonly SessionSummary[], q: ViewQuery): SessionSummary[] {
  const words = q.text.trim().toLocaleLowerCase().split(/\s+/).filter(Boolean)
  const out = sessions.filter(
    (s) =>
      (!q.status || s.status === q.status) &&
      (!q.language || s.language === q.language) &&
      words.every((w) => s.subject.toLocaleLowerCase().includes(w)),
  )
  const byDate = (a: SessionSummary, b: SessionSummary) => b.created_at - a.created_at
  const compare: Record<SortKey, (a: SessionSummary, b: SessionSummary) => number> = {
    newest: byDate,
    oldest: (a, b) => -byDate(a, b),
    subject: (a, b) => collator.compare(a.subject, b.subject) || byDate(a, b),
    status: (a, b) => RUN_STATUSES.indexOf(a.status) - RUN_STATUSES.indexOf(b.status) || byDate(a, b),
  }
  return out.sort(compare[q.sort])
}

/**
 * The list after refreshing its first page: the fresh first page, then the older pages already
 * loaded that lie past it (a session on both is taken from the fresh page; one that vanished
 * from the first page's range was deleted). With no next page, the first page is everything.
 */
export function mergeFirstPage(loaded: readonly SessionSummary[], first: readonly SessionSummary[], more: boolean): SessionSummary[] {
  const last = first.at(-1)
  if (!more || !last) return [...first]
  const fresh = new Set(first.map((s) => s.session_id))
  const older = loaded.filter(
    (s) => !fresh.has(s.session_id) && (s.created_at < last.created_at || (s.created_at === last.created_at && s.session_id < last.session_id)),
  )
  return [...first, ...older]
}

/** An older page appended, without the sessions already listed (pages may overlap). */
export function appendPage(loaded: readonly SessionSummary[], page: readonly SessionSummary[]): SessionSummary[] {
  const have = new Set(loaded.map((s) => s.session_id))
  return [...loaded, ...page.filter((s) => !have.has(s.session_id))]
}
