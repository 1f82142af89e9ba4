/**
 * The projection in TypeScript: a pure fold of a session's events into its `SessionState`.
 *
 * This mirrors `src/tk9/projection.py` rule for rule (read its docstring for the why); both are
 * run against the same JSON fixtures in `tests/fixtures/projection/`, so the browser and the
 * snapshot endpoint agree by construction. States are immutable values: `applyEvent` returns a
 * new state sharing every unchanged part, or the very same object for a duplicate.
 *
 * Stream rules: another epoch than a non-empty `state.epoch` -> `EpochMismatchError`;
 * `seq <= state.seq` -> ignored; `seq > state.seq + 1` -> `GapError` (the driver resumes from
 * its cursor); a malformed payload -> `InvalidEventError`. Every applied event moves the cursor.
 */
import type {
  AgentName,
  AgentState,
  AgentStatus,
  AgentUpdatePayload,
  CoveragePayload,
  ErrorPayload,
  Event,
  FileGeneratedPayload,
  LogLevel,
  LogLine,
  LogPayload,
  ResearchStatusPayload,
  RunStatus,
  SessionState,
} from '@/generated/wire'
import {
  AGENT_NAMES,
  AGENT_STATUSES,
  FILE_KINDS,
  FINAL_AGENT_STATUSES as GENERATED_FINAL,
  MAX_LOG_LINES as GENERATED_MAX_LOG_LINES,
  LOG_LEVELS,
  RUN_STATUSES as GENERATED_RUN_STATUSES,
  TERMINAL_RUN_STATUSES as GENERATED_TERMINAL,
} from '@/generated/wire'

/** How many log lines a state keeps (the Python `MAX_LOG_LINES`, generated). */
export const MAX_LOG_LINES = GENERATED_MAX_LOG_LINES

/** The seven agents in pipeline order; the dashboard shows one card each. */
export const AGENTS: readonly AgentName[] = AGENT_NAMES

export const RUN_STATUSES: readonly RunStatus[] = GENERATED_RUN_STATUSES
export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(GENERATED_TERMINAL)
export const FINAL_AGENT_STATUSES: ReadonlySet<AgentStatus> = new Set(GENERATED_FINAL)
const AGENT_RANK: Record<AgentStatus, number> = {
  pending: 0,
  running: 1,
  completed: 2,
  failed: 2,
  skipped: 2,
}

/** A stream error the driver must act on; `kind` names the fixture's `expected_error`. */
export class StreamError extends Error {
  constructor(
    readonly kind: 'gap' | 'epoch_mismatch' | 'invalid',
    message: string,
  ) {
    super(message)
    this.name = new.target.name
  }
}

/** An event beyond `state.seq + 1` arrived: something in between is missing -> resume. */
export class GapError extends StreamError {
  constructor(
    readonly expected: number,
    readonly got: number,
  ) {
    super('gap', `gap in the event stream: expected seq ${expected}, got ${got}`)
  }
}

/** An event from another stream incarnation: the cursor is meaningless -> reload snapshot. */
export class EpochMismatchError extends StreamError {
  constructor(
    readonly expected: string,
    readonly got: string,
  ) {
    super('epoch_mismatch', `event from epoch ${got}, state is at epoch ${expected}`)
  }
}

/** The payload does not match its event type's schema. */
export class InvalidEventError extends StreamError {
  constructor(message: string) {
    super('invalid', message)
  }
}

function pendingAgent(): AgentState {
  return { status: 'pending', progress: 0, message: '', started_at: null, finished_at: null }
}

/** The state before a session's first event. An empty `epoch` adopts the first event's. */
export function initialState(
  sessionId: string,
  epoch = '',
  subject = '',
  language = 'en',
  createdAt = 0,
): SessionState {
  const agents = Object.fromEntries(AGENTS.map((a) => [a, pendingAgent()])) as SessionState['agents']
  return {
    session_id: sessionId,
    subject,
    language,
    created_at: createdAt,
    status: 'pending',
    progress: 0,
    stage: '',
    error: null,
    warnings: [],
    coverage: null,
    agents,
    files: [],
    logs: [],
    epoch,
    seq: 0,
  }
}

/** Fold one event into `state`; see the module comment for the rules. */
export function applyEvent(state: SessionState, event: Event): SessionState {
  if (state.epoch && event.epoch !== state.epoch) {
    throw new EpochMismatchError(state.epoch, event.epoch)
  }
  if (event.seq <= state.seq) return state
  if (event.seq !== state.seq + 1) throw new GapError(state.seq + 1, event.seq)

  let changes: Partial<SessionState>
  const p = event.payload
  switch (event.event_type) {
    case 'research_status':
      changes = researchStatus(state, checkResearchStatus(p, event.seq))
      break
    case 'agent_update':
      changes = agentUpdate(state, event, checkAgentUpdate(p, event.seq))
      break
    case 'file_generated':
      changes = { files: withFile(state.files, checkFile(p, event.seq)) }
      break
    case 'log': {
      const log = checkLog(p, event.seq)
      changes = {
        logs: withLog(state.logs, {
          seq: event.seq,
          timestamp: event.timestamp,
          level: log.level,
          message: log.message,
          agent: log.agent,
        }),
      }
      break
    }
    case 'error': {
      const err = checkError(p, event.seq)
      changes = {
        logs: withLog(state.logs, {
          seq: event.seq,
          timestamp: event.timestamp,
          level: 'error',
          message: `${err.code}: ${err.message}`,
          agent: err.agent,
        }),
      }
      break
    }
    case 'coverage':
      changes = { coverage: checkCoverage(p, event.seq) }
      break
    default:
      throw new InvalidEventError(`unknown event type at seq ${event.seq}`)
  }
  return { ...state, ...changes, seq: event.seq, epoch: event.epoch }
}

/** Apply `events` in order (duplicates ignored, a gap throws). */
export function applyEvents(state: SessionState, events: Iterable<Event>): SessionState {
  let out = state
  for (const event of events) out = applyEvent(out, event)
  return out
}

// --- per-type rules ----------------------------------------------------------------------

function researchStatus(state: SessionState, p: ResearchStatusPayload): Partial<SessionState> {
  let error: string | null
  if (p.error !== null) error = p.error
  else if (p.status === 'pending' || p.status === 'running') error = null
  else error = state.error
  return { status: p.status, progress: p.progress, stage: p.stage, error, warnings: p.warnings }
}

function agentUpdate(
  state: SessionState,
  event: Event,
  p: AgentUpdatePayload,
): Partial<SessionState> {
  const current = state.agents[p.agent]
  if (FINAL_AGENT_STATUSES.has(current.status) || AGENT_RANK[p.status] < AGENT_RANK[current.status]) {
    return {}
  }
  let startedAt = current.started_at
  if (p.status === 'running' && startedAt === null) startedAt = event.timestamp
  const final = FINAL_AGENT_STATUSES.has(p.status)
  const next: AgentState = {
    status: p.status,
    progress: p.status === 'completed' ? 100 : p.progress,
    message: p.message,
    started_at: startedAt,
    finished_at: final ? event.timestamp : null,
  }
  return { agents: { ...state.agents, [p.agent]: next } }
}

function withFile(files: FileGeneratedPayload[], file: FileGeneratedPayload): FileGeneratedPayload[] {
  const index = files.findIndex((f) => f.name === file.name && f.language === file.language)
  if (index < 0) return [...files, file]
  const out = [...files]
  out[index] = file
  return out
}

function withLog(logs: LogLine[], line: LogLine): LogLine[] {
  const keep = MAX_LOG_LINES - 1
  const head = logs.length > keep ? logs.slice(logs.length - keep) : logs
  return [...head, line]
}

// --- payload checks (the pydantic models' constraints, enough to refuse garbage) ---------

type Raw = Record<string, unknown>

function bad(seq: number, type: string, why: string): never {
  throw new InvalidEventError(`invalid ${type} payload at seq ${seq}: ${why}`)
}

function only(p: Raw, allowed: readonly string[], seq: number, type: string): void {
  for (const key of Object.keys(p)) {
    if (!allowed.includes(key)) bad(seq, type, `unexpected field ${key}`)
  }
}

function str(p: Raw, key: string, seq: number, type: string, dflt?: string, max = 4000): string {
  const v = p[key] ?? dflt
  if (typeof v !== 'string') bad(seq, type, `${key} must be a string`)
  if (v.length > max) bad(seq, type, `${key} longer than ${max}`)
  return v
}

function oneOf<T extends string>(
  p: Raw,
  key: string,
  values: readonly T[],
  seq: number,
  type: string,
  dflt?: T,
): T {
  const v = p[key] ?? dflt
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    bad(seq, type, `${key} must be one of ${values.join(', ')}`)
  }
  return v as T
}

function progress(p: Raw, seq: number, type: string, dflt?: number): number {
  const v = p.progress ?? dflt
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 100) {
    bad(seq, type, 'progress must be an integer 0..100')
  }
  return v
}

function optionalAgent(p: Raw, seq: number, type: string): AgentName | null {
  if (p.agent === undefined || p.agent === null) return null
  return oneOf(p, 'agent', AGENTS, seq, type)
}

function checkResearchStatus(p: Raw, seq: number): ResearchStatusPayload {
  const t = 'research_status'
  only(p, ['status', 'progress', 'stage', 'error', 'warnings'], seq, t)
  const error = p.error === undefined || p.error === null ? null : str(p, 'error', seq, t)
  const warnings = p.warnings ?? []
  if (!Array.isArray(warnings) || !warnings.every((w) => typeof w === 'string')) {
    bad(seq, t, 'warnings must be a list of strings')
  }
  return {
    status: oneOf(p, 'status', RUN_STATUSES, seq, t),
    progress: progress(p, seq, t),
    stage: str(p, 'stage', seq, t, ''),
    error,
    warnings: warnings as string[],
  }
}

function fraction(v: unknown, seq: number, t: string, what: string): number {
  if (typeof v !== 'number' || v < 0 || v > 1) bad(seq, t, `${what} must be a number 0..1`)
  return v as number
}

function checkCoverage(p: Raw, seq: number): CoveragePayload {
  const t = 'coverage'
  only(p, ['score', 'phrases', 'sources', 'summary'], seq, t)
  const phrases = p.phrases ?? []
  const sources = p.sources ?? []
  if (!Array.isArray(phrases) || !Array.isArray(sources)) bad(seq, t, 'phrases/sources must be lists')
  return {
    score: fraction(p.score, seq, t, 'score'),
    phrases: (phrases as Raw[]).map((x) => ({
      phrase: str(x, 'phrase', seq, t),
      score: fraction(x.score, seq, t, 'phrase score'),
      covered: x.covered === true,
    })),
    sources: (sources as Raw[]).map((x) => ({
      title: str(x, 'title', seq, t),
      uri: str(x, 'uri', seq, t),
      relevance: fraction(x.relevance, seq, t, 'relevance'),
      cited: x.cited === true,
    })),
    summary: str(p, 'summary', seq, t, ''),
  }
}

function checkAgentUpdate(p: Raw, seq: number): AgentUpdatePayload {
  const t = 'agent_update'
  only(p, ['agent', 'status', 'progress', 'message'], seq, t)
  return {
    agent: oneOf(p, 'agent', AGENTS, seq, t),
    status: oneOf(p, 'status', AGENT_STATUSES, seq, t),
    progress: progress(p, seq, t, 0),
    message: str(p, 'message', seq, t, ''),
  }
}

function checkFile(p: Raw, seq: number): FileGeneratedPayload {
  const t = 'file_generated'
  only(p, ['name', 'kind', 'language', 'size_bytes', 'sha256', 'path'], seq, t)
  const name = str(p, 'name', seq, t, undefined, 255)
  if (name.length < 1) bad(seq, t, 'name is empty')
  const language = str(p, 'language', seq, t, undefined, 16)
  if (language.length < 2) bad(seq, t, 'language shorter than 2')
  const size = p.size_bytes
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
    bad(seq, t, 'size_bytes must be a non-negative integer')
  }
  const sha = str(p, 'sha256', seq, t)
  if (!/^[0-9a-f]{64}$/.test(sha)) bad(seq, t, 'sha256 must be 64 hex digits')
  return {
    name,
    kind: oneOf(p, 'kind', FILE_KINDS, seq, t) as FileGeneratedPayload['kind'],
    language,
    size_bytes: size,
    sha256: sha,
    path: str(p, 'path', seq, t, undefined, 1024),
  }
}

function checkLog(p: Raw, seq: number): LogPayload {
  const t = 'log'
  only(p, ['level', 'message', 'agent'], seq, t)
  return {
    level: oneOf(p, 'level', LOG_LEVELS, seq, t, 'info'),
    message: str(p, 'message', seq, t),
    agent: optionalAgent(p, seq, t),
  }
}

function checkError(p: Raw, seq: number): ErrorPayload {
  const t = 'error'
  only(p, ['code', 'message', 'agent'], seq, t)
  return {
    code: str(p, 'code', seq, t, undefined, 64),
    message: str(p, 'message', seq, t),
    agent: optionalAgent(p, seq, t),
  }
}
