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
  AgentWork,
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
  AGENT_STATUS_RANK,
  AGENT_STATUSES,
  type FieldRule,
  FILE_KINDS,
  FINAL_AGENT_STATUSES as GENERATED_FINAL,
  MAX_LOG_LINES as GENERATED_MAX_LOG_LINES,
  LOG_LEVELS,
  NESTED_FIELDS,
  PAYLOAD_FIELDS,
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
  return { status: 'pending', progress: 0, message: '', started_at: null, finished_at: null, work: null }
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
  if (FINAL_AGENT_STATUSES.has(current.status) || AGENT_STATUS_RANK[p.status] < AGENT_STATUS_RANK[current.status]) {
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
    work: p.work ?? current.work,
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
type Rules = Readonly<Record<string, FieldRule>>

/*
 * Payload checks. Which fields a payload may carry and their limits come from the pydantic
 * models (`PAYLOAD_FIELDS`, `NESTED_FIELDS`, generated): an event the server would refuse is
 * refused here too, and nothing here is a copy to keep in step by hand.
 */

function bad(seq: number, type: string, why: string): never {
  throw new InvalidEventError(`invalid ${type} payload at seq ${seq}: ${why}`)
}

/** Refuse fields the model does not declare (pydantic `extra="forbid"`). */
function only(p: Raw, rules: Rules, seq: number, type: string): void {
  for (const key of Object.keys(p)) {
    if (!(key in rules)) bad(seq, type, `unexpected field ${key}`)
  }
}

function checkLength(v: string, rule: FieldRule | undefined, key: string, seq: number, type: string): string {
  if (rule?.maxLength !== undefined && v.length > rule.maxLength) bad(seq, type, `${key} longer than ${rule.maxLength}`)
  if (rule?.minLength !== undefined && v.length < rule.minLength) bad(seq, type, `${key} shorter than ${rule.minLength}`)
  if (rule?.pattern !== undefined && !new RegExp(rule.pattern).test(v)) bad(seq, type, `${key} must match ${rule.pattern}`)
  return v
}

function str(p: Raw, rules: Rules, key: string, seq: number, type: string, dflt?: string): string {
  const v = p[key] ?? dflt
  if (typeof v !== 'string') bad(seq, type, `${key} must be a string`)
  return checkLength(v, rules[key], key, seq, type)
}

function list(p: Raw, rules: Rules, key: string, seq: number, type: string): unknown[] {
  const v = p[key] ?? []
  const max = rules[key]?.maxItems
  if (!Array.isArray(v)) bad(seq, type, `${key} must be a list`)
  if (max !== undefined && v.length > max) bad(seq, type, `${key} has more than ${max} items`)
  return v
}

function num(p: Raw, rules: Rules, key: string, seq: number, type: string, integer: boolean, dflt?: number): number {
  const v = p[key] ?? dflt
  const rule = rules[key]
  const lo = rule?.minimum ?? -Infinity
  const hi = rule?.maximum ?? Infinity
  if (typeof v !== 'number' || (integer && !Number.isInteger(v)) || v < lo || v > hi) {
    const range = hi === Infinity ? `>= ${lo}` : `${lo}..${hi}`
    bad(seq, type, `${key} must be ${integer ? 'an integer' : 'a number'} ${range}`)
  }
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

function optionalAgent(p: Raw, seq: number, type: string): AgentName | null {
  if (p.agent === undefined || p.agent === null) return null
  return oneOf(p, 'agent', AGENTS, seq, type)
}

function checkResearchStatus(p: Raw, seq: number): ResearchStatusPayload {
  const t = 'research_status'
  const r = PAYLOAD_FIELDS[t]
  only(p, r, seq, t)
  const error = p.error === undefined || p.error === null ? null : str(p, r, 'error', seq, t)
  const warnings = list(p, r, 'warnings', seq, t).map((w) => {
    if (typeof w !== 'string') bad(seq, t, 'warnings must be a list of strings')
    const max = r.warnings?.itemMaxLength
    if (max !== undefined && w.length > max) bad(seq, t, `a warning longer than ${max}`)
    return w
  })
  return {
    status: oneOf(p, 'status', RUN_STATUSES, seq, t),
    progress: num(p, r, 'progress', seq, t, true),
    stage: str(p, r, 'stage', seq, t, ''),
    error,
    warnings,
  }
}

function checkCoverage(p: Raw, seq: number): CoveragePayload {
  const t = 'coverage'
  const r = PAYLOAD_FIELDS[t]
  const phraseRules = NESTED_FIELDS.PhraseCoverage
  const sourceRules = NESTED_FIELDS.SourceRelevance
  only(p, r, seq, t)
  return {
    score: num(p, r, 'score', seq, t, false),
    phrases: (list(p, r, 'phrases', seq, t) as Raw[]).map((x) => {
      only(x, phraseRules, seq, t)
      return {
        phrase: str(x, phraseRules, 'phrase', seq, t),
        score: num(x, phraseRules, 'score', seq, t, false),
        covered: x.covered === true,
      }
    }),
    sources: (list(p, r, 'sources', seq, t) as Raw[]).map((x) => {
      only(x, sourceRules, seq, t)
      return {
        title: str(x, sourceRules, 'title', seq, t),
        uri: str(x, sourceRules, 'uri', seq, t),
        relevance: num(x, sourceRules, 'relevance', seq, t, false),
        cited: x.cited === true,
      }
    }),
    summary: str(p, r, 'summary', seq, t, ''),
  }
}

function checkAgentUpdate(p: Raw, seq: number): AgentUpdatePayload {
  const t = 'agent_update'
  const r = PAYLOAD_FIELDS[t]
  only(p, r, seq, t)
  return {
    agent: oneOf(p, 'agent', AGENTS, seq, t),
    status: oneOf(p, 'status', AGENT_STATUSES, seq, t),
    progress: num(p, r, 'progress', seq, t, true, 0),
    message: str(p, r, 'message', seq, t, ''),
    work: p.work === undefined || p.work === null ? null : checkWork(p.work as Raw, seq, t),
  }
}

function checkWork(w: Raw, seq: number, t: string): AgentWork {
  const r = NESTED_FIELDS.AgentWork
  const sectionRules = NESTED_FIELDS.SectionWords
  if (typeof w !== 'object' || Array.isArray(w)) bad(seq, t, 'work must be an object')
  only(w, r, seq, t)
  return {
    outline: list(w, r, 'outline', seq, t).map((h) => {
      if (typeof h !== 'string') bad(seq, t, 'outline must be a list of strings')
      return checkLength(h, { maxLength: r.outline?.itemMaxLength }, 'an outline heading', seq, t)
    }),
    sections: (list(w, r, 'sections', seq, t) as Raw[]).map((x) => {
      only(x, sectionRules, seq, t)
      return {
        heading: str(x, sectionRules, 'heading', seq, t),
        words: num(x, sectionRules, 'words', seq, t, true),
      }
    }),
    engine: str(w, r, 'engine', seq, t, ''),
    language: str(w, r, 'language', seq, t, ''),
  }
}

function checkFile(p: Raw, seq: number): FileGeneratedPayload {
  const t = 'file_generated'
  const r = PAYLOAD_FIELDS[t]
  only(p, r, seq, t)
  return {
    name: str(p, r, 'name', seq, t),
    kind: oneOf(p, 'kind', FILE_KINDS, seq, t),
    language: str(p, r, 'language', seq, t),
    size_bytes: num(p, r, 'size_bytes', seq, t, true),
    sha256: str(p, r, 'sha256', seq, t),
    path: str(p, r, 'path', seq, t),
  }
}

function checkLog(p: Raw, seq: number): LogPayload {
  const t = 'log'
  const r = PAYLOAD_FIELDS[t]
  only(p, r, seq, t)
  return {
    level: oneOf(p, 'level', LOG_LEVELS, seq, t, 'info'),
    message: str(p, r, 'message', seq, t),
    agent: optionalAgent(p, seq, t),
  }
}

function checkError(p: Raw, seq: number): ErrorPayload {
  const t = 'error'
  const r = PAYLOAD_FIELDS[t]
  only(p, r, seq, t)
  return {
    code: str(p, r, 'code', seq, t),
    message: str(p, r, 'message', seq, t),
    agent: optionalAgent(p, seq, t),
  }
}
