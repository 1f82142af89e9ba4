/**
 * The TypeScript ladder against the scripted scenarios the Python `tk9.protocol.ladder` is
 * tested with (`tests/fixtures/ladder/*.json`): same inputs at the same times, same actions.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Ladder, type LadderAction, type LadderPolicy, type LadderTransport } from '@/transport/ladder'
import type { TransportPreference } from '@/transport/policy'

interface Step {
  at: number
  input: { type: string; code?: number; refused?: boolean; transport?: LadderTransport }
  expect: LadderAction[]
  deadline?: number | null
  transport?: LadderTransport
}

interface Fixture {
  name: string
  description: string
  preference: TransportPreference
  random: number
  /** Overrides of the Python `LadderPolicy` (snake_case field names). */
  policy: Record<string, number>
  steps: Step[]
}

const DIR = join(__dirname, '..', '..', 'tests', 'fixtures', 'ladder')
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()
const fixtures: Fixture[] = files.map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf-8')) as Fixture)

const camel = (key: string): string => key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())
const round = (x: number): number => Math.round(x * 1e9) / 1e9

function feed(ladder: Ladder, now: number, input: Step['input']): LadderAction[] {
  switch (input.type) {
    case 'start':
      return ladder.start(now)
    case 'opened':
      return ladder.opened(now)
    case 'closed':
      return ladder.closed(now, input.code ?? 1006, input.refused ?? false)
    case 'stale':
      return ladder.stale(now)
    case 'resume':
      return ladder.resume(now)
    case 'use':
      return ladder.use(now, input.transport ?? 'ws')
    case 'wake':
      return ladder.wake(now)
    case 'probe_opened':
      return ladder.probeOpened(now)
    case 'probe_failed':
      return ladder.probeFailed(now)
    case 'tick':
      return ladder.tick(now)
    default:
      throw new Error(`unknown input ${input.type}`)
  }
}

const rounded = (actions: LadderAction[]): LadderAction[] =>
  actions.map((a) => (a.type === 'wait' ? { ...a, until: round(a.until) } : a))

describe('ladder fixtures', () => {
  it('exist', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10)
  })

  it.each(fixtures.map((f, i) => [f.name, f, files[i]] as const))('%s', (_name, fx, file) => {
    expect(`${fx.name}.json`).toBe(file)
    const policy = Object.fromEntries(Object.entries(fx.policy).map(([k, v]) => [camel(k), v])) as Partial<LadderPolicy>
    const ladder = new Ladder(fx.preference, policy, () => fx.random)
    fx.steps.forEach((step, index) => {
      const where = `step ${index} (${step.input.type} at ${step.at})`
      expect(rounded(feed(ladder, step.at, step.input)), where).toEqual(rounded(step.expect))
      if (step.deadline !== undefined) {
        const deadline = ladder.deadline()
        expect(deadline === null ? null : round(deadline), where).toBe(step.deadline)
      }
      if (step.transport !== undefined) expect(ladder.transport, where).toBe(step.transport)
    })
  })
})
