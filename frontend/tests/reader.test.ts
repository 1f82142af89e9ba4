/** The report reader: citations linked to the reference list, raw HTML never rendered, language switch. */
import { createApp, h, nextTick } from 'vue'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { api } from '@/api/client'
import ReportReader from '@/components/ReportReader.vue'
import { loadRenderer } from '@/report/render'

const REPORT = `# Heat pumps

*Written from 2 sources.*

## Introduction

A heat pump moves heat [1], even in the cold [2][9]. <img src=x onerror="window.__pwned=1">

## References

1. Heat pump — <wiki:Heat_pump>
2. Cold climate — <https://example.org/cold>
`

let host: HTMLElement | null = null
afterEach(() => {
  host?.remove()
  host = null
  vi.restoreAllMocks()
})

describe('render', () => {
  it('links each citation to its reference, titled with it; unknown numbers stay text', async () => {
    const render = await loadRenderer()
    const el = document.createElement('div')
    el.innerHTML = render(REPORT)
    const cites = [...el.querySelectorAll('a.cite')]
    expect(cites.map((a) => [a.textContent, a.getAttribute('href')])).toEqual([
      ['[1]', '#ref-1'],
      ['[2]', '#ref-2'],
    ])
    expect(cites[0]?.getAttribute('title')).toBe('Heat pump — <wiki:Heat_pump>')
    expect(el.textContent).toContain('[9]')
    expect(el.querySelector('#ref-2')?.textContent).toContain('Cold climate')
    expect(el.querySelector('img')).toBeNull()
  })
})

describe('ReportReader', () => {
  it('shows the report in the language asked for and switches to the original', async () => {
    const files = [
      { name: 'heat.md', kind: 'md' as const, language: 'en', size_bytes: 1, sha256: 'a', path: '/a' },
      { name: 'heat.pdf', kind: 'pdf' as const, language: 'en', size_bytes: 1, sha256: 'b', path: '/b' },
      { name: 'heat.es.md', kind: 'md' as const, language: 'es', size_bytes: 1, sha256: 'c', path: '/c' },
    ]
    const text = vi.spyOn(api, 'fileText').mockImplementation(async (_id, name) => (name === 'heat.md' ? REPORT : '# Bombas de calor [1]'))
    host = document.createElement('div')
    document.body.appendChild(host)
    createApp({ render: () => h(ReportReader, { sessionId: 's1', files, language: 'es' }) }).mount(host)
    const body = () => host?.querySelector('[data-testid=reader-body]')?.textContent ?? ''
    await vi.waitFor(() => expect(body()).toContain('Bombas de calor'))
    expect(host.querySelector('[data-testid=reader-body]')?.getAttribute('lang')).toBe('es')
    const en = host.querySelector<HTMLButtonElement>('[data-testid=reader-language][data-language=en]')
    expect(en?.textContent).toContain('(original)')
    en?.click()
    await nextTick()
    await vi.waitFor(() => expect(body()).toContain('A heat pump moves heat'))
    expect(text).toHaveBeenLastCalledWith('s1', 'heat.md')
    expect([...host.querySelectorAll('.controls a')].map((a) => a.textContent)).toEqual(['MD', 'PDF'])
  })
})
