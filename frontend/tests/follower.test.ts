/**
 * The TypeScript follower against the scripted scenarios the Python
 * `tk9.protocol.follower.Follower` is tested with (`tests/fixtures/follower/*.json`): same inputs
 * at the same times, same actions, same cursor, head and deadlines.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { RunStatus } from '@/generated/wire'
import { type EventRef, Follower, type FollowerAction, type FollowerPolicy } from '@/transport/follower'

interface EventSpec {
  epoch: string
  seq: number
  status?: string
}
interface SnapshotSpec {
  epoch: string
  seq: number
  status: RunStatus
}
interface Input extends Partial<EventSpec> {
  type: string
  head?: number
  heartbeat_interval?: number
  heartbeat_timeout?: number
  events?: EventSpec[]
  reset?: SnapshotSpec
  ts?: number
  code?: number
}
interface Step {
  at: number
  input: Input
  expect: FollowerAction[]
  cursor?: { seq: number; epoch: string | null }
  head?: number
  finished?: boolean
  duplicates?: number
  deadline?: number
}
interface Fixture {
  name: string
  description: string
  after: number
  epoch: string | null
  /** Overrides of the Python `FollowerPolicy` (snake_case field names). */
  policy: Record<string, number>
  steps: Step[]
}

const DIR = join(__dirname, '..', '..', 'tests', 'fixtures', 'follower')
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()
const fixtures: Fixture[] = files.map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf-8')) as Fixture)

const camel = (key: string): string => key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())
const round = (x: number): number => Math.round(x * 1e9) / 1e9

const event = (e: EventSpec): EventRef => ({
  seq: e.seq,
  epoch: e.epoch,
  event_type: e.status ? 'research_status' : 'log',
  payload: e.status ? { status: e.status } : {},
})

function feed(f: Follower, now: number, input: Input): FollowerAction[] {
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error(`${input.type}: missing field`)
    return value
  }
  switch (input.type) {
    case 'connect':
      f.onConnect(now)
      return []
    case 'alive':
      f.onAlive(now)
      return []
    case 'close':
      f.onClose()
      return []
    case 'tick':
      return f.tick(now)
    case 'ack_now': {
      const ack = f.ackNow(now)
      return ack ? [ack] : []
    }
    case 'hello':
      f.onHello(
        {
          epoch: need(input.epoch),
          head: need(input.head),
          heartbeat_interval: need(input.heartbeat_interval),
          heartbeat_timeout: need(input.heartbeat_timeout),
        },
        now,
      )
      return []
    case 'event':
      return f.onEvent(event({ epoch: need(input.epoch), seq: need(input.seq), status: input.status }), now)
    case 'events':
      return f.onEvents(need(input.events).map(event), now)
    case 'reset':
      return f.onReset({ epoch: need(input.epoch), seq: need(input.seq), status: need(input.status) as RunStatus }, now)
    case 'page':
      return f.onPage({ epoch: need(input.epoch), head: need(input.head), events: need(input.events).map(event), reset: input.reset }, now)
    case 'ping':
      return f.onPing(need(input.ts), now)
    default:
      throw new Error(`unknown input ${input.type}`)
  }
}

describe('follower fixtures', () => {
  it('exist', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(6)
  })

  it.each(fixtures.map((f, i) => [f.name, f, files[i]] as const))('%s', (_name, fx, file) => {
    expect(`${fx.name}.json`).toBe(file)
    const policy = Object.fromEntries(Object.entries(fx.policy).map(([k, v]) => [camel(k), v])) as Partial<FollowerPolicy>
    const follower = new Follower({ after: fx.after, epoch: fx.epoch, policy })
    fx.steps.forEach((step, index) => {
      const where = `step ${index} (${step.input.type} at ${step.at})`
      expect(feed(follower, step.at, step.input), where).toEqual(step.expect)
      if (step.cursor !== undefined) expect(follower.cursor, where).toEqual(step.cursor)
      if (step.head !== undefined) expect(follower.head, where).toBe(step.head)
      if (step.finished !== undefined) expect(follower.finished, where).toBe(step.finished)
      if (step.duplicates !== undefined) expect(follower.duplicates, where).toBe(step.duplicates)
      if (step.deadline !== undefined) expect(round(follower.nextDeadline(step.at)), where).toBe(step.deadline)
    })
  })

  it('refuses a bad cursor or policy', () => {
    expect(() => new Follower({ after: -1 })).toThrow(RangeError)
    expect(() => new Follower({ policy: { ackEvery: 0 } })).toThrow(RangeError)
  })
})
