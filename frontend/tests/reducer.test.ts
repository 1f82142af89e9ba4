/** The TypeScript reducer against the fixtures the Python projection is tested with. */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Event, SessionState } from '@/generated/wire'
import {
  applyEvent,
  applyEvents,
  GapError,
  initialState,
  MAX_LOG_LINES,
  StreamError,
  TERMINAL_RUN_STATUSES,
} from '@/state/reducer'

interface Fixture {
  name: string
  description: string
  initial: SessionState
  events: Event[]
  expected: SessionState
  expected_error?: 'gap' | 'epoch_mismatch'
  error_at?: number
}

const DIR = join(__dirname, '..', '..', 'tests', 'fixtures', 'projection')
const fixtures: Fixture[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf-8')) as Fixture)

describe('projection fixtures', () => {
  it('exist', () => {
    expect(fixtures.length).toBeGreaterThan(0)
  })

  it.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, fx) => {
    if (fx.expected_error) {
      const at = fx.error_at ?? fx.events.length - 1
      const before = applyEvents(fx.initial, fx.events.slice(0, at))
      expect(before).toEqual(fx.expected)
      const frozen = JSON.stringify(before)
      let thrown: unknown = null
      try {
        applyEvent(before, fx.events[at] as Event)
      } catch (err) {
        thrown = err
      }
      expect(thrown).toBeInstanceOf(StreamError)
      expect((thrown as StreamError).kind).toBe(fx.expected_error)
      expect(JSON.stringify(before)).toBe(frozen)
    } else {
      expect(applyEvents(fx.initial, fx.events)).toEqual(fx.expected)
    }
  })
})

function ev(seq: number, event_type: Event['event_type'], payload: Record<string, unknown>): Event {
  return { seq, epoch: 'e1', timestamp: 1000 + seq, event_type, payload }
}

describe('reducer', () => {
  it('returns the same object for a duplicate and does not mutate its input', () => {
    const s0 = initialState('s', 'e1')
    const s1 = applyEvent(s0, ev(1, 'log', { level: 'info', message: 'hi', agent: null }))
    expect(s0.logs).toHaveLength(0)
    expect(applyEvent(s1, ev(1, 'log', { level: 'info', message: 'hi', agent: null }))).toBe(s1)
  })

  it('reports a gap with the expected seq', () => {
    const s0 = initialState('s', 'e1')
    expect(() => applyEvent(s0, ev(3, 'log', { message: 'x' }))).toThrow(GapError)
  })

  it('refuses a malformed payload', () => {
    const s0 = initialState('s', 'e1')
    expect(() => applyEvent(s0, ev(1, 'agent_update', { agent: 'Nobody', status: 'running' }))).toThrow(
      /invalid agent_update/,
    )
  })

  it('keeps the last MAX_LOG_LINES lines', () => {
    let s = initialState('s', 'e1')
    for (let i = 1; i <= MAX_LOG_LINES + 20; i++) s = applyEvent(s, ev(i, 'log', { message: `m${i}` }))
    expect(s.logs).toHaveLength(MAX_LOG_LINES)
    expect(s.logs[0]?.seq).toBe(21)
  })
})

describe('outcome', () => {
  const coverage = {
    score: 0.5,
    phrases: [{ phrase: 'coral reef', score: 0.9, covered: true }],
    sources: [{ title: 'Coral reef', uri: 'wiki:Coral_reef', relevance: 0.8, cited: true }],
    summary: 'The sources cover 1 of 2 key phrases',
  }

  it('ends completed_with_warnings with the warnings, terminal, and keeps the last coverage', () => {
    let s = initialState('s', 'e1')
    s = applyEvent(s, ev(1, 'coverage', { ...coverage, score: 0.25 }))
    s = applyEvent(s, ev(2, 'coverage', coverage))
    s = applyEvent(s, ev(3, 'research_status', { status: 'completed_with_warnings', progress: 100, warnings: ['thin'] }))
    expect(s.status).toBe('completed_with_warnings')
    expect(TERMINAL_RUN_STATUSES.has(s.status)).toBe(true)
    expect(s.warnings).toEqual(['thin'])
    expect(s.coverage).toEqual(coverage)
  })

  it('refuses malformed warnings and coverage', () => {
    const s0 = initialState('s', 'e1')
    expect(() => applyEvent(s0, ev(1, 'research_status', { status: 'completed', progress: 1, warnings: [3] }))).toThrow(
      /warnings/,
    )
    expect(() => applyEvent(s0, ev(1, 'coverage', { ...coverage, score: 2 }))).toThrow(/score/)
    expect(() => applyEvent(s0, ev(1, 'coverage', { ...coverage, sources: [{ title: 'x' }] }))).toThrow(/coverage/)
  })

  it('refuses what the pydantic models refuse: fields and limits are generated from them', () => {
    const s0 = initialState('s', 'e1')
    const phrase = { phrase: 'p'.repeat(201), score: 0.5, covered: true } // PhraseCoverage: max 200
    expect(() => applyEvent(s0, ev(1, 'coverage', { ...coverage, phrases: [phrase] }))).toThrow(/longer than 200/)
    const source = { title: 't', uri: 'u', relevance: 0.5, cited: false, extra: 1 } // extra="forbid"
    expect(() => applyEvent(s0, ev(1, 'coverage', { ...coverage, sources: [source] }))).toThrow(/unexpected field extra/)
    const warnings = Array.from({ length: 51 }, () => 'w') // at most 50
    expect(() => applyEvent(s0, ev(1, 'research_status', { status: 'completed', progress: 100, warnings }))).toThrow(/50 items/)
    const file = { name: 'a.md', kind: 'md', language: 'e', size_bytes: 1, sha256: 'f'.repeat(64), path: '/x' }
    expect(() => applyEvent(s0, ev(1, 'file_generated', file))).toThrow(/language shorter than 2/)
  })
})
