/**
 * `StreamCore`, the pure decisions of the browser's follower: fed inputs with the time (seconds),
 * no timers at all. The transport ladder inside it is covered by the shared fixtures
 * (`ladder.test.ts`), the follower by its own (`follower.test.ts`); these cover how they are put
 * together and what the browser adds — SSE and long-poll stale bounds and waking up.
 */
import { describe, expect, it } from 'vitest'
import type { Hello } from '@/generated/wire'
import { StreamCore } from '@/transport/core'

const hello = (interval: number, timeout: number): Hello => ({
  type: 'hello',
  session_id: 's1',
  epoch: 'e1',
  head: 0,
  resume_from: 0,
  heartbeat_interval: interval,
  heartbeat_timeout: timeout,
})

describe('StreamCore', () => {
  it('starts on WebSocket and watches it for 2.5 intervals, or interval + the server timeout', () => {
    const core = new StreamCore({ random: () => 0.5 })
    expect(core.start(0)).toEqual([{ type: 'connect', transport: 'ws', reason: 'start' }])
    expect(core.deadline()).toBe(37.5)
    core.opened(1, hello(15, 10))
    expect(core.deadline()).toBe(26)
    core.traffic(20)
    expect(core.tick(44.9)).toEqual([])
    expect(core.tick(45)).toEqual([{ type: 'drop_stale' }, { type: 'wait', until: 45.1875 }])
    expect(core.deadline()).toBe(45.1875)
    expect(core.tick(45.1875)).toEqual([{ type: 'connect', transport: 'ws', reason: 'retry' }])
  })

  it('folds events through the follower: applies the next, acks when due, resumes on a gap', () => {
    const core = new StreamCore({ random: () => 0.5 })
    core.start(0)
    core.opened(0, hello(15, 10))
    const ev = (seq: number) => ({ seq, epoch: 'e1' })
    expect(core.events(0.1, [ev(1)])).toEqual([{ type: 'apply', seq: 1, event: ev(1) }])
    expect(core.deadline()).toBe(0.25)
    expect(core.tick(0.25)).toEqual([{ type: 'ack', seq: 1 }])
    const burst = core.events(0.3, Array.from({ length: 50 }, (_, i) => ev(i + 2)))
    expect(burst.filter((a) => a.type === 'ack')).toEqual([{ type: 'ack', seq: 51 }]) // 50 waiting: at once
    expect(core.events(0.31, [ev(51)])).toEqual([]) // a duplicate
    expect(core.events(0.32, [ev(53)])).toEqual([{ type: 'connect', transport: 'ws', reason: 'resume' }])
    expect(core.follower.cursor).toEqual({ seq: 51, epoch: 'e1' })
  })

  it('watches SSE only once it sent a ping, and long-poll after its wait + 10 s', () => {
    const core = new StreamCore({ preference: 'sse', random: () => 0.5 })
    core.start(0)
    core.opened(0, hello(10, 20))
    expect(core.staleAfter()).toBeNull()
    expect(core.deadline()).toBeNull()
    core.ssePing(5)
    expect(core.deadline()).toBe(30)
    const poll = new StreamCore({ preference: 'poll', pollWait: 25 })
    poll.start(0)
    expect(poll.deadline()).toBe(35)
  })

  it('on waking, drops a link silent past the bound and reconnects at once', () => {
    const core = new StreamCore({ random: () => 0.5 })
    core.start(0)
    core.opened(0, hello(15, 10))
    expect(core.wake(10)).toEqual([])
    expect(core.wake(3600)).toEqual([
      { type: 'drop_stale' },
      { type: 'wait', until: 3600.1875 },
      { type: 'connect', transport: 'ws', reason: 'wake' },
    ])
    expect(core.ladder.failures).toBe(0)
  })
})
