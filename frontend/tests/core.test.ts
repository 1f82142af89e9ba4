/**
 * `StreamCore`, the pure decisions of the browser's follower: fed inputs with the time (seconds),
 * no timers at all. The transport ladder inside it is covered by the shared fixtures
 * (`ladder.test.ts`); these cover what it adds — stale bounds, ack batching and waking up.
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

  it('acks every 0.25 s, or at once when 50 events wait, and not after a disconnect', () => {
    const core = new StreamCore({ random: () => 0.5 })
    core.start(0)
    core.opened(0, hello(15, 10))
    expect(core.applied(1)).toEqual([])
    expect(core.deadline()).toBe(1.25)
    expect(core.applied(1.1)).toEqual([])
    expect(core.tick(1.25)).toEqual([{ type: 'ack' }])
    for (let i = 0; i < 49; i++) expect(core.applied(2)).toEqual([])
    expect(core.applied(2)).toEqual([{ type: 'ack' }])
    core.applied(3)
    expect(core.closed(3.1, 1006)).toEqual([{ type: 'wait', until: 3.2875 }])
    expect(core.tick(3.25)).toEqual([]) // the pending ack went with the connection
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
