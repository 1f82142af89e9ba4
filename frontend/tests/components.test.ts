/** Untrusted text (agent messages, log lines) is rendered as text, never as HTML. */
import { createApp, h } from 'vue'
import { afterEach, describe, expect, it } from 'vitest'
import AgentCard from '@/components/AgentCard.vue'
import LogPanel from '@/components/LogPanel.vue'

const EVIL = '<img src=x onerror="window.__pwned=1"><b>bold</b>'
let host: HTMLElement | null = null

function mount(component: object, props: Record<string, unknown>): HTMLElement {
  host = document.createElement('div')
  document.body.appendChild(host)
  createApp({ render: () => h(component, props) }).mount(host)
  return host
}

afterEach(() => {
  host?.remove()
  host = null
})

describe('rendering untrusted strings', () => {
  it('shows an agent message as text, with status in words', () => {
    const el = mount(AgentCard, {
      name: 'Browser',
      agent: { status: 'running', progress: 40, message: EVIL, started_at: 100, finished_at: null },
      nowSeconds: 165,
    })
    expect(el.querySelector('img')).toBeNull()
    expect(el.querySelector('b')).toBeNull()
    expect(el.querySelector('.msg')?.textContent).toBe(EVIL)
    expect(el.textContent).toContain('Running')
    expect(el.textContent).toContain('1m 05s')
    expect(el.querySelector('[role=progressbar]')?.getAttribute('aria-valuenow')).toBe('40')
  })

  it('shows log lines as text and filters by level', () => {
    const logs = [
      { seq: 1, timestamp: 1, level: 'debug', message: 'noise', agent: null },
      { seq: 2, timestamp: 2, level: 'error', message: EVIL, agent: 'Writer' },
    ]
    const el = mount(LogPanel, { logs })
    expect(el.querySelector('img')).toBeNull()
    const lines = [...el.querySelectorAll('.log-line .text')].map((n) => n.textContent)
    expect(lines).toEqual([EVIL]) // debug is below the default "info+" filter
  })
})
