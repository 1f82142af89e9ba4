/** The timeline's geometry, the agent panel's content, and the dialog's focus handling. */
import { createApp, h, nextTick, ref } from 'vue'
import { afterEach, describe, expect, it } from 'vitest'
import AgentDetail from '@/components/AgentDetail.vue'
import ModalDialog from '@/components/ModalDialog.vue'
import type { AgentName, AgentState, SessionState } from '@/generated/wire'
import { buildTimeline } from '@/outcome/timeline'
import { initialState } from '@/state/reducer'

let host: HTMLElement | null = null
afterEach(() => {
  host?.remove()
  host = null
})

function mount(render: () => ReturnType<typeof h>): HTMLElement {
  host = document.createElement('div')
  document.body.appendChild(host)
  createApp({ render }).mount(host)
  return host
}

const agent = (status: AgentState['status'], started_at: number | null, finished_at: number | null, message = ''): AgentState => ({
  status,
  progress: status === 'completed' ? 100 : 30,
  message,
  started_at,
  finished_at,
  work: null,
})

function run(): SessionState {
  const s = initialState('s1', 'e1', 'Tidal energy', 'en', 1000)
  return {
    ...s,
    status: 'running',
    agents: {
      ...s.agents,
      Orchestrator: agent('running', 1000, null),
      Browser: agent('completed', 1000, 1010, 'Kept 2 sources'),
      Editor: agent('running', 1010, null),
      Translator: agent('skipped', null, 1011, 'no translator for en'),
    },
  }
}

describe('buildTimeline', () => {
  it('places each agent on one axis from the session start to now', () => {
    const t = buildTimeline(run(), 1020)
    expect(t.span).toBe(20)
    const lane = (name: string) => t.lanes.find((l) => l.agent === name)
    expect(lane('Browser')).toMatchObject({ left: 0, width: 50, text: '+0s → +10s (10s)' })
    expect(lane('Editor')).toMatchObject({ left: 50, width: 50, text: '+10s, running for 10s' })
    expect(lane('Writer')).toMatchObject({ left: null, text: 'not started' })
    expect(lane('Translator')).toMatchObject({ left: null, text: 'skipped' })
  })

  it('stops the axis when the Orchestrator finished, however late it is now', () => {
    const s = run()
    s.agents = { ...s.agents, Orchestrator: agent('completed', 1000, 1040), Editor: agent('completed', 1010, 1040) }
    expect(buildTimeline(s, 99_999).span).toBe(40)
  })
})

describe('AgentDetail', () => {
  it('shows the Browser’s sources kept and set aside, and its own log lines only', () => {
    const s = run()
    s.coverage = {
      score: 0.5,
      summary: '',
      phrases: [],
      sources: [
        { title: 'Tide', uri: 'wiki:Tide', relevance: 0.9, cited: true },
        { title: 'Moon', uri: 'https://example.org/moon', relevance: 0.2, cited: false },
      ],
    }
    s.logs = [
      { seq: 1, timestamp: 1000, level: 'info', message: 'Browser started', agent: 'Browser' },
      { seq: 2, timestamp: 1005, level: 'info', message: 'Editor started', agent: 'Editor' },
      { seq: 3, timestamp: 1010, level: 'info', message: 'Browser completed in 10.0 s', agent: 'Browser' },
    ]
    const el = mount(() => h(AgentDetail, { session: s, agent: 'Browser', nowSeconds: 1020 }))
    expect(el.querySelector('[data-testid=agent-took]')?.textContent).toBe('10s')
    expect(el.querySelector('[data-testid=agent-message]')?.textContent).toBe('Kept 2 sources')
    expect(el.querySelector('[data-testid=sources-kept]')?.textContent).toContain('Tide')
    expect(el.querySelector('[data-testid=sources-aside]')?.textContent).toContain('not cited')
    expect(el.querySelector('[data-testid=sources-aside] a')?.getAttribute('href')).toBe('https://example.org/moon')
    const history = [...el.querySelectorAll('[data-testid=agent-history] .text')].map((n) => n.textContent)
    expect(history).toEqual(['Browser started', 'Browser completed in 10.0 s'])
  })
})

describe('ModalDialog', () => {
  it('takes the focus, keeps Tab inside, closes on Esc and gives the focus back', async () => {
    const opener = document.createElement('button')
    document.body.appendChild(opener)
    opener.focus()
    const open = ref(true)
    const el = mount(() =>
      open.value
        ? h(ModalDialog, { label: 'Test', onClose: () => (open.value = false) }, () => [h('button', { id: 'a' }, 'A'), h('button', { id: 'b' }, 'B')])
        : h('span'),
    )
    await nextTick()
    await nextTick()
    expect(document.activeElement?.getAttribute('role')).toBe('dialog')
    const tab = (shiftKey = false) => document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Tab', shiftKey, cancelable: true }))
    ;(el.querySelector('#b') as HTMLElement).focus()
    tab()
    expect(document.activeElement?.id).toBe('a')
    tab(true)
    expect(document.activeElement?.id).toBe('b')
    opener.focus() // focus escaped somehow: Esc still closes
    ;(el.querySelector('#a') as HTMLElement).focus()
    document.body.focus()
    document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }))
    await nextTick()
    expect(el.querySelector('[role=dialog]')).toBeNull()
    expect(document.activeElement).toBe(opener)
    opener.remove()
  })
})

describe('buildTimeline, short steps', () => {
  it('says "under 1s" for a step that took less than a second, never "0s"', () => {
    const s = run()
    s.agents = { ...s.agents, Editor: agent('completed', 1010, 1010.4) }
    expect(buildTimeline(s, 1020).lanes.find((l) => l.agent === 'Editor')?.text).toBe('+10s → +10s (under 1s)')
  })
})

describe('AgentDetail, files', () => {
  it('lists the Publisher’s files in the original language and the Translator’s in the others', () => {
    const s = run()
    const file = (name: string, language: string) => ({ name, kind: 'md' as const, language, size_bytes: 2048, sha256: 'x', path: '/p' })
    s.files = [file('tide.md', 'en'), file('tide.pdf', 'en'), file('tide.es.md', 'es')]
    const names = (agent: 'Publisher' | 'Translator') => {
      const el = mount(() => h(AgentDetail, { session: s, agent, nowSeconds: 1020 }))
      const out = [...el.querySelectorAll('[data-testid=agent-files] a')].map((a) => a.textContent)
      host?.remove()
      return out
    }
    expect(names('Publisher')).toEqual(['tide.md', 'tide.pdf'])
    expect(names('Translator')).toEqual(['tide.es.md'])
  })
})

describe('AgentDetail, what it worked on', () => {
  it('shows the Editor’s outline, the Writer’s sections with word counts and the Translator’s engine', () => {
    const s = run()
    const work = { outline: [], sections: [], engine: '', language: '' }
    s.agents = {
      ...s.agents,
      Editor: { ...agent('completed', 1010, 1011), work: { ...work, outline: ['History', 'How it works'] } },
      Writer: {
        ...agent('completed', 1011, 1012),
        work: { ...work, sections: [{ heading: 'History', words: 1 }, { heading: 'How it works', words: 1234 }] },
      },
      Translator: { ...agent('completed', 1012, 1013), work: { ...work, engine: 'Apertium', language: 'es' } },
    }
    const texts = (name: AgentName, id: string) => {
      const el = mount(() => h(AgentDetail, { session: s, agent: name, nowSeconds: 1020 }))
      const out = [...el.querySelectorAll(`[data-testid=${id}] li, [data-testid=${id}] dd`)].map((n) => n.textContent?.trim())
      host?.remove()
      return out
    }
    expect(texts('Editor', 'agent-outline')).toEqual(['History', 'How it works'])
    expect(texts('Writer', 'agent-sections')).toEqual(['History · 1 word', 'How it works · 1,234 words'])
    expect(texts('Translator', 'agent-translation')).toEqual(['Apertium', 'es'])
    expect(texts('Browser', 'agent-outline')).toEqual([])
  })
})
