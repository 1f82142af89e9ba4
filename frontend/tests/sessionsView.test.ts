/** The sessions page's client-side search and sort. */
import { describe, expect, it } from 'vitest'
import type { SessionSummary } from '@/api/client'
import { appendPage, mergeFirstPage, sessionsView } from '@/pages/sessionsView'

const row = (subject: string, created_at: number, status: SessionSummary['status'] = 'completed', language = 'en'): SessionSummary => ({
  session_id: subject,
  subject,
  language,
  status,
  progress: 100,
  created_at,
  warning_count: 0,
})
const rows = [row('Tidal energy', 3, 'running'), row('heat pumps in cold climates', 1, 'failed', 'es'), row('Heat pumps, again', 2)]
const q = { text: '', status: '', language: '', sort: 'newest' as const }
const subjects = (list: SessionSummary[]) => list.map((s) => s.subject)

describe('sessionsView', () => {
  it('searches every word of the subject, case-insensitively', () => {
    expect(subjects(sessionsView(rows, { ...q, text: 'PUMPS heat' }))).toEqual(['Heat pumps, again', 'heat pumps in cold climates'])
    expect(sessionsView(rows, { ...q, text: 'pumps wind' })).toEqual([])
  })

  it('sorts by date either way, by subject and by status, and filters with the search', () => {
    expect(subjects(sessionsView(rows, { ...q, sort: 'oldest' }))).toEqual(['heat pumps in cold climates', 'Heat pumps, again', 'Tidal energy'])
    expect(subjects(sessionsView(rows, { ...q, sort: 'subject' }))[2]).toBe('Tidal energy')
    expect(subjects(sessionsView(rows, { ...q, sort: 'status' }))).toEqual(['Tidal energy', 'Heat pumps, again', 'heat pumps in cold climates'])
    expect(subjects(sessionsView(rows, { ...q, language: 'es', text: 'heat' }))).toEqual(['heat pumps in cold climates'])
  })

  it('leaves the list it was given untouched', () => {
    const copy = [...rows]
    sessionsView(rows, { ...q, sort: 'subject' })
    expect(rows).toEqual(copy)
  })
})

describe('recent runs', () => {
  it('measures the typical run as the median of the last finished runs, newest first', async () => {
    const { initialState } = await import('@/state/reducer')
    const { loadRecentRuns, median } = await import('@/home/recentRuns')
    expect(median([])).toBeNull()
    expect(median([30, 10, 20, 100])).toBe(25)
    const snap = (id: string, took: number) => {
      const s = initialState(id, 'e', id, 'en', 0)
      return { ...s, status: 'completed' as const, agents: { ...s.agents, Orchestrator: { ...s.agents.Orchestrator, started_at: 100, finished_at: 100 + took } } }
    }
    const took: Record<string, number> = { 'Tidal energy': 0, 'Heat pumps, again': 60, 'heat pumps in cold climates': 90 }
    const runs = await loadRecentRuns(2, 5, { list: async () => rows, snapshot: async (id) => snap(id, took[id] ?? 0) })
    expect(runs.recent.map((r) => r.subject)).toEqual(['Tidal energy', 'Heat pumps, again'])
    expect(runs.typical).toEqual({ seconds: 60, runs: 1 }) // the failed and the running ones are not measured
  })
})

describe('paging', () => {
  const page = (n: number, from: number) => Array.from({ length: n }, (_, i) => row(`s${from - i}`, from - i))

  it('a refreshed first page replaces its range and keeps the older pages loaded', () => {
    const loaded = [...page(3, 10), ...page(3, 7)] // s10..s5
    const first = [row('s11', 11), row('s10', 10), row('s8', 8)] // a new session; s9 was deleted
    expect(subjects(mergeFirstPage(loaded, first, true))).toEqual(['s11', 's10', 's8', 's7', 's6', 's5'])
    expect(subjects(mergeFirstPage(loaded, first, false))).toEqual(['s11', 's10', 's8'])
  })

  it('appends an older page without repeating what pages share', () => {
    expect(subjects(appendPage(page(3, 10), page(3, 8)))).toEqual(['s10', 's9', 's8', 's7', 's6'])
  })
})
