/**
 * The home page's recent runs and the typical run time, measured from the last runs that
 * finished on this server (their Orchestrator's start and end, from their snapshots).
 */
import { api, type SessionSummary } from '@/api/client'
import type { SessionState } from '@/generated/wire'

/** The median of the durations, in seconds; `null` for none. */
export function median(values: readonly number[]): number | null {
  if (!values.length) return null
  const v = [...values].sort((a, b) => a - b)
  const mid = Math.floor(v.length / 2)
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2
}

/** How long a finished run took, or `null` when it did not finish or its times are missing. */
export function runSeconds(state: SessionState): number | null {
  const o = state.agents.Orchestrator
  if (o.started_at === null || o.finished_at === null) return null
  return state.status === 'completed' || state.status === 'completed_with_warnings' ? o.finished_at - o.started_at : null
}

export interface RecentRuns {
  recent: SessionSummary[]
  /** Median seconds of the last finished runs, and how many it is measured on. */
  typical: { seconds: number; runs: number } | null
}

export async function loadRecentRuns(show = 5, measure = 5, deps = { list: api.listSessions, snapshot: api.snapshot }): Promise<RecentRuns> {
  const all = [...(await deps.list())].sort((a, b) => b.created_at - a.created_at)
  const done = all.filter((s) => s.status === 'completed' || s.status === 'completed_with_warnings').slice(0, measure)
  const states = await Promise.allSettled(done.map((s) => deps.snapshot(s.session_id)))
  const seconds = states.flatMap((r) => (r.status === 'fulfilled' ? [runSeconds(r.value)] : [])).filter((x): x is number => x !== null)
  const m = median(seconds)
  return { recent: all.slice(0, show), typical: m === null ? null : { seconds: m, runs: seconds.length } }
}
