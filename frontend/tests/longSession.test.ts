/** A 100k-event session stays small in the browser: capped logs, a bounded log list. */
import { createApp, h, nextTick } from 'vue'
import { describe, expect, it } from 'vitest'
import LogPanel from '@/components/LogPanel.vue'
import { applyEvents, initialState, MAX_LOG_LINES } from '@/state/reducer'
import { logEvent } from './fakes/network'

const EVENTS = 100_000

function* replay(n: number) {
  for (let seq = 1; seq <= n; seq++) yield logEvent(seq)
}

describe('a 100k-event session', () => {
  it('keeps MAX_LOG_LINES log lines in the state and renders no more rows', async () => {
    const state = applyEvents(initialState('s1', 'e1'), replay(EVENTS))
    expect(state.seq).toBe(EVENTS)
    expect(state.logs).toHaveLength(MAX_LOG_LINES)
    expect(state.logs.at(-1)?.seq).toBe(EVENTS)

    const host = document.createElement('div')
    document.body.appendChild(host)
    const app = createApp({ render: () => h(LogPanel, { logs: state.logs }) })
    app.mount(host)
    await nextTick()
    const rows = host.querySelectorAll('.log-line')
    expect(rows.length).toBeGreaterThan(0)
    expect(rows.length).toBeLessThanOrEqual(MAX_LOG_LINES)
    app.unmount()
    host.remove()
  })
})
