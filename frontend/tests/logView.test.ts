/** The live log's filter by agent chips, and its export as text and JSON. */
import { describe, expect, it } from 'vitest'
import type { LogLine } from '@/generated/wire'
import { agentsInLog, filterLogs, logAsJson, logAsText } from '@/state/logView'

const logs: LogLine[] = [
  { seq: 1, timestamp: 0, level: 'info', message: 'run started', agent: null },
  { seq: 2, timestamp: 1, level: 'info', message: 'reading sources', agent: 'Browser' },
  { seq: 3, timestamp: 2, level: 'debug', message: 'cache hit', agent: 'Browser' },
  { seq: 4, timestamp: 3, level: 'warning', message: 'two\nlines', agent: 'Writer' },
]

describe('log view', () => {
  it('offers one chip per agent that spoke, in pipeline order', () => {
    expect(agentsInLog([...logs].reverse())).toEqual(['Browser', 'Writer'])
  })

  it('filters by picked agents, level and text together', () => {
    const all = { minLevel: 'info' as const, query: '', agents: new Set<never>() }
    expect(filterLogs(logs, all).map((l) => l.seq)).toEqual([1, 2, 4])
    expect(filterLogs(logs, { ...all, agents: new Set(['Browser'] as const) }).map((l) => l.seq)).toEqual([2])
    expect(filterLogs(logs, { ...all, minLevel: 'debug', agents: new Set(['Browser'] as const) }).map((l) => l.seq)).toEqual([2, 3])
    expect(filterLogs(logs, { ...all, query: 'WRITER' }).map((l) => l.seq)).toEqual([4])
  })

  it('exports one tab-separated line per entry, or the lines as JSON', () => {
    expect(logAsText(logs.slice(3))).toBe('1970-01-01T00:00:03.000Z\tWARNING\tWriter\ttwo ⏎ lines\n')
    expect(logAsText(logs.slice(0, 1))).toBe('1970-01-01T00:00:00.000Z\tINFO\t-\trun started\n')
    expect(JSON.parse(logAsJson(logs))).toEqual(logs)
  })
})
