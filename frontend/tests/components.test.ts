/** Untrusted text (agent messages, log lines) is rendered as text, never as HTML. */
import { createApp, h } from 'vue'
import { afterEach, describe, expect, it } from 'vitest'
import AgentCard from '@/components/AgentCard.vue'
import CoveragePanel from '@/components/CoveragePanel.vue'
import LogPanel from '@/components/LogPanel.vue'
import OutcomeBanner from '@/components/OutcomeBanner.vue'
import StatusBadge from '@/components/StatusBadge.vue'

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

describe('outcome', () => {
  it('labels completed_with_warnings in words and with a mark, not by colour alone', () => {
    const el = mount(StatusBadge, { status: 'completed_with_warnings' })
    const badge = el.querySelector('.badge') as HTMLElement
    expect(badge.dataset.status).toBe('completed_with_warnings')
    expect(badge.classList.contains('st-completed_with_warnings')).toBe(true)
    expect(badge.textContent?.trim()).toBe('⚠Completed with warnings')
    expect(badge.querySelector('.icon')?.getAttribute('aria-hidden')).toBe('true')
  })

  it('lists every warning as text', () => {
    const el = mount(OutcomeBanner, { warnings: ['only part of “coral bleaching”', EVIL] })
    expect(el.querySelector('[role=status] h2')?.textContent).toContain('Completed with warnings')
    expect([...el.querySelectorAll('[data-testid=warning]')].map((n) => n.textContent)).toEqual([
      'only part of “coral bleaching”',
      EVIL,
    ])
    expect(el.querySelector('img')).toBeNull()
    expect(el.textContent).toContain('2 warnings')
  })

  it('shows the coverage: score, phrases covered or not, sources by relevance with cited marks', () => {
    const el = mount(CoveragePanel, {
      coverage: {
        score: 0.375,
        summary: 'The sources cover 1 of 3 key phrases',
        phrases: [
          { phrase: 'heat pumps', score: 0.75, covered: true },
          { phrase: 'defrost cycles', score: 0, covered: false },
        ],
        sources: [
          { title: 'Pump', uri: 'wiki:Pump', relevance: 0.25, cited: false },
          { title: EVIL, uri: 'https://example.org/hp', relevance: 0.875, cited: true },
        ],
      },
    })
    expect(el.querySelector('[data-testid=coverage-score]')?.textContent).toBe('38%')
    expect(el.textContent).toContain('The sources cover 1 of 3 key phrases')
    const phrases = [...el.querySelectorAll('[data-testid=phrase]')].map((n) => n.textContent?.replace(/\s+/g, ' ').trim())
    expect(phrases).toEqual(['✓ heat pumps covered · 75%', '✗ defrost cycles not covered · 0%'])
    const rows = [...el.querySelectorAll('[data-testid=source]')] as HTMLElement[]
    expect(rows.map((r) => r.dataset.cited)).toEqual(['true', 'false']) // most relevant first
    expect(rows[0]?.querySelector('a')?.textContent).toBe(EVIL)
    expect(rows[0]?.querySelector('a')?.getAttribute('href')).toBe('https://example.org/hp')
    expect(rows[0]?.textContent).toContain('✓ cited')
    expect(rows[1]?.querySelector('a')).toBeNull() // not a web address: no link
    expect(rows[1]?.textContent).toContain('not cited')
    expect(el.querySelector('img')).toBeNull()
  })
})

describe('connection indicator', () => {
  it('says "Connecting…" before the first connection and "Reconnecting…" only after one', async () => {
    const { nextTick, reactive } = await import('vue')
    const ConnectionIndicator = (await import('@/components/ConnectionIndicator.vue')).default
    const props = reactive({ state: 'reconnecting' as 'reconnecting' | 'live', transport: null })
    const el = mount({ render: () => h(ConnectionIndicator, props) }, {})
    const text = () => el.querySelector('[data-testid=connection]')?.textContent?.trim()
    expect(text()).toBe('Connecting…')
    props.state = 'live'
    await nextTick()
    expect(text()).toBe('Live')
    props.state = 'reconnecting'
    await nextTick()
    expect(text()).toBe('Reconnecting…')
  })
})
