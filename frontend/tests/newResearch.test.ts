/**
 * The new-research form says how the chosen language will be translated, lists the languages
 * that really get a translation first, and warns before a run that would stay in English.
 */
import { createPinia } from 'pinia'
import { createApp, nextTick } from 'vue'
import { createMemoryHistory } from 'vue-router'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { LanguageOption } from '@/api/client'
import { groupLanguages, optionLabel, translationNote } from '@/languages'
import NewResearch from '@/pages/NewResearch.vue'
import { createAppRouter } from '@/router'

const FRENCH_WARNING =
  'No offline translator for French (fr): the report will be in English only. Install an Apertium pair for it or configure a language model (TK9_ENGINE=llm)'

const LANGUAGES: LanguageOption[] = [
  { code: 'fr', name: 'French', translation: 'none', via: FRENCH_WARNING },
  { code: 'ca', name: 'Catalan', translation: 'apertium', via: 'Apertium eng-cat' },
  { code: 'en', name: 'English', translation: 'source', via: 'English is the language the report is written in' },
  { code: 'de', name: 'German', translation: 'none', via: 'No offline translator for German (de): …' },
  { code: 'es', name: 'Spanish', translation: 'apertium', via: 'Apertium eng-spa' },
]

const CONFIG = {
  languages: LANGUAGES,
  source_language: 'en',
  translation_targets: ['ca', 'en', 'es'],
  engines: ['extractive'],
  min_subject: 3,
  max_subject: 1000,
  heartbeat_interval: 15,
}

let host: HTMLElement | null = null
const posted: unknown[] = []

function respond(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve()
  await nextTick()
}

async function mountForm(): Promise<HTMLElement> {
  vi.stubGlobal('fetch', async (path: string, init?: RequestInit) => {
    if (path === '/api/config') return respond(CONFIG)
    posted.push(JSON.parse(String(init?.body)))
    return respond({ session_id: 's1', warnings: [FRENCH_WARNING] }, 201)
  })
  host = document.createElement('div')
  document.body.appendChild(host)
  const router = createAppRouter(createMemoryHistory())
  createApp(NewResearch).use(createPinia()).use(router).mount(host)
  await flush()
  return host
}

async function choose(el: HTMLElement, code: string): Promise<void> {
  const select = el.querySelector('select') as HTMLSelectElement
  select.value = code
  select.dispatchEvent(new Event('change'))
  await nextTick()
}

afterEach(() => {
  host?.remove()
  host = null
  posted.length = 0
  vi.unstubAllGlobals()
})

describe('the language list', () => {
  it('groups translatable languages first, the source language leading, each annotated', () => {
    const groups = groupLanguages(LANGUAGES)
    expect(groups.map((g) => g.label)).toEqual([
      'Translated offline (Apertium)',
      'English only: no translator on this server',
    ])
    expect(groups[0]?.options.map((l) => l.code)).toEqual(['en', 'ca', 'es'])
    expect(groups[1]?.options.map((l) => l.code)).toEqual(['fr', 'de'])
    expect(optionLabel(LANGUAGES[0] as LanguageOption)).toBe('French (fr) · English only')
    expect(translationNote(LANGUAGES[1] as LanguageOption)).toContain('offline (Apertium eng-cat)')
  })
})

describe('the new-research form', () => {
  it('renders the groups as optgroups in that order', async () => {
    const el = await mountForm()
    const groups = [...el.querySelectorAll('optgroup')].map((g) => g.getAttribute('label'))
    expect(groups).toEqual(['Translated offline (Apertium)', 'English only: no translator on this server'])
    const first = el.querySelector('optgroup option') as HTMLOptionElement
    expect(first.value).toBe('en')
    expect(el.querySelector('.language-note')?.textContent).toContain('nothing to translate')
  })

  it('says how a translatable language is produced, with no warning', async () => {
    const el = await mountForm()
    await choose(el, 'ca')
    const note = el.querySelector('#language-note') as HTMLElement
    expect(note.textContent).toContain('translated into Catalan offline (Apertium eng-cat)')
    expect(note.classList.contains('english-only')).toBe(false)
    expect(note.getAttribute('role')).toBeNull()
    expect(el.querySelector('button[type=submit]')?.textContent?.trim()).toBe('Start research')
  })

  it('warns before submitting a run that would stay in English, and still lets it start', async () => {
    const el = await mountForm()
    await choose(el, 'fr')
    const note = el.querySelector('#language-note') as HTMLElement
    expect(note.getAttribute('role')).toBe('alert')
    expect(note.classList.contains('english-only')).toBe(true)
    expect(note.textContent).toContain('No offline translator for French (fr): the report will be in English only')
    const button = el.querySelector('button[type=submit]') as HTMLButtonElement
    expect(button.textContent?.trim()).toBe('Start research (English only)')
    const subject = el.querySelector('textarea') as HTMLTextAreaElement
    subject.value = 'Tidal power'
    subject.dispatchEvent(new Event('input'))
    await nextTick()
    ;(el.querySelector('form') as HTMLFormElement).dispatchEvent(new Event('submit'))
    await flush()
    expect(posted).toEqual([{ subject: 'Tidal power', language: 'fr' }])
  })
})
