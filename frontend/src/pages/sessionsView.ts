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
