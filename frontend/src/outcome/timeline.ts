/**
 * The waterfall of the seven agents, from the projection only: each agent's bar runs from its
 * `started_at` to its `finished_at` (or to now while it runs), on one time axis that starts when
 * the session was created and ends when the Orchestrator finished (or now).
 */
import { formatElapsed } from '@/format'
import type { AgentName, AgentStatus, SessionState } from '@/generated/wire'
import { AGENTS } from '@/state/reducer'

export interface Lane {
  agent: AgentName
  status: AgentStatus
  /** Percentages of the axis; `null` for an agent that never ran. */
  left: number | null
  width: number | null
  /** `+0s → +9s (9s)`, `running for 4s`, `skipped`, `not started`. */
  text: string
}

export interface Timeline {
  /** Length of the axis in seconds. */
  span: number
  lanes: Lane[]
}

export function buildTimeline(state: SessionState, nowSeconds: number): Timeline {
  const starts = AGENTS.map((a) => state.agents[a].started_at).filter((t): t is number => t !== null)
  const origin = state.created_at > 0 ? Math.min(state.created_at, ...starts) : Math.min(...starts, nowSeconds)
  const ends = AGENTS.map((a) => state.agents[a].finished_at).filter((t): t is number => t !== null)
  const running = AGENTS.some((a) => state.agents[a].status === 'running')
  const finish = state.agents.Orchestrator.finished_at ?? (running || !ends.length ? nowSeconds : Math.max(...ends))
  const span = Math.max(1, finish - origin)
  const at = (t: number) => Math.min(100, Math.max(0, ((t - origin) / span) * 100))
  const offset = (t: number) => `+${formatElapsed(origin, t, t)}`
  const lanes = AGENTS.map((agent): Lane => {
    const a = state.agents[agent]
    if (a.started_at === null) {
      return { agent, status: a.status, left: null, width: null, text: a.status === 'pending' ? 'not started' : a.status }
    }
    const end = a.finished_at ?? Math.max(a.started_at, Math.min(finish, nowSeconds))
    const took = end - a.started_at < 1 ? 'under 1s' : formatElapsed(a.started_at, end, end)
    const text = a.finished_at === null ? `${offset(a.started_at)}, running for ${took}` : `${offset(a.started_at)} → ${offset(end)} (${took})`
    const left = at(a.started_at)
    return { agent, status: a.status, left, width: Math.max(0.75, Math.min(100 - left, at(end) - left)), text }
  })
  return { span, lanes }
}
