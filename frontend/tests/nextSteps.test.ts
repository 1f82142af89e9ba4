/** After every ending there is a next step, the reason is told once and in plain words, and cancel asks first. */
import { createPinia, setActivePinia } from 'pinia'
import { createApp, h, nextTick } from 'vue'
import { createMemoryHistory } from 'vue-router'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { api } from '@/api/client'
import CancelRun from '@/components/CancelRun.vue'
import FailureNotice from '@/components/FailureNotice.vue'
import NextSteps from '@/components/NextSteps.vue'
import type { SessionState } from '@/generated/wire'
import { explainFailure } from '@/outcome/failure'
import { createAppRouter } from '@/router'
import { initialState } from '@/state/reducer'
import { useToasts } from '@/stores/toasts'

let host: HTMLElement | null = null
const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve()
  await nextTick()
}

async function mount(component: object, props: Record<string, unknown>) {
  const router = createAppRouter(createMemoryHistory())
  await router.push('/sessions/s1')
  host = document.createElement('div')
  document.body.appendChild(host)
  const pinia = createPinia()
  setActivePinia(pinia)
  createApp({ render: () => h(component, props) }).use(pinia).use(router).mount(host)
  return { el: host, router }
}

function session(status: SessionState['status'], extra: Partial<SessionState> = {}): SessionState {
  return { ...initialState('s1', 'e1', 'Tidal energy', 'fr', 1), status, ...extra }
}
const md = { name: 'tidal.fr.md', kind: 'md' as const, language: 'fr', size_bytes: 10, sha256: 'x', path: '/p' }

beforeEach(() => setActivePinia(createPinia()))
afterEach(() => {
  host?.remove()
  host = null
  vi.restoreAllMocks()
})

describe('explainFailure', () => {
  it('puts the operator hint in the detail, never in the headline', () => {
    const why = explainFailure('failed', 'Browser failed: the corpus is empty: set TK9_CORPUS_DIR (or --corpus)')
    expect(why.headline).toBe('The run stopped while finding sources (Browser): this server has no documents to research yet.')
    expect(why.headline + why.advice).not.toContain('TK9_')
    expect(why.detail).toContain('TK9_CORPUS_DIR')
  })

  it('says a cancel was yours, with nothing technical', () => {
    expect(explainFailure('cancelled', 'cancelled')).toMatchObject({ headline: 'You cancelled this run.', detail: '' })
  })

  it('tells an interruption apart from a failure', () => {
    expect(explainFailure('interrupted', 'the server stopped').headline).toBe('The server stopped while this run was in progress.')
    expect(explainFailure('failed', 'Writer failed: internal error: KeyError').headline).toBe('Something went wrong inside tk9 while writing the report (Writer).')
  })
})

describe('FailureNotice', () => {
  it('keeps the technical text behind a disclosure', async () => {
    const { el } = await mount(FailureNotice, { status: 'failed', error: 'Researcher failed: timeout' })
    expect(el.querySelector('h2')?.textContent).toBe('The run stopped while gathering evidence (Researcher).')
    const details = el.querySelector('details')
    expect(details?.open).toBe(false)
    expect(details?.textContent).toContain('Researcher failed: timeout')
  })
})

describe('NextSteps', () => {
  it('offers the report after success, and no retry', async () => {
    const { el } = await mount(NextSteps, { session: session('completed', { files: [md] }) })
    expect(el.querySelector('[data-testid=read-report]')).not.toBeNull()
    expect(el.querySelector('[data-testid=rerun]')).toBeNull()
  })

  it('retries a failed run with the same subject and language and opens it', async () => {
    const create = vi.spyOn(api, 'createSession').mockResolvedValue({
      session_id: 's2',
      subject: 'x',
      language: 'en',
      status: 'pending',
      created_at: 0,
      epoch: 'e',
      warnings: [],
    })
    const { el, router } = await mount(NextSteps, { session: session('failed') })
    const retry = el.querySelector<HTMLButtonElement>('[data-testid=rerun]')
    expect(retry?.textContent).toBe('Retry')
    retry?.click()
    await flush()
    expect(create).toHaveBeenCalledWith('Tidal energy', 'fr')
    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe('/sessions/s2'))
  })

  it('edits before running again after a cancel: the form opens with the subject and language', async () => {
    const { el, router } = await mount(NextSteps, { session: session('cancelled') })
    expect(el.querySelector('[data-testid=rerun]')?.textContent).toBe('Run again')
    el.querySelector<HTMLButtonElement>('[data-testid=edit-rerun]')?.click()
    await vi.waitFor(() => expect(router.currentRoute.value.name).toBe('new'))
    expect(router.options.history.state).toMatchObject({ subject: 'Tidal energy', language: 'fr' })
  })
})

describe('CancelRun', () => {
  it('asks first; "Keep running" cancels nothing; "Yes, cancel" cancels without an error toast', async () => {
    const cancel = vi.spyOn(api, 'cancel').mockResolvedValue({ cancelled: true })
    const { el } = await mount(CancelRun, { sessionId: 's1' })
    el.querySelector<HTMLButtonElement>('[data-testid=cancel]')?.click()
    await flush()
    expect(document.activeElement?.getAttribute('data-testid')).toBe('cancel-yes')
    ;[...el.querySelectorAll('button')].find((b) => b.textContent === 'Keep running')?.click()
    await flush()
    expect(cancel).not.toHaveBeenCalled()
    expect(document.activeElement?.getAttribute('data-testid')).toBe('cancel')
    el.querySelector<HTMLButtonElement>('[data-testid=cancel]')?.click()
    await flush()
    el.querySelector<HTMLButtonElement>('[data-testid=cancel-yes]')?.click()
    await flush()
    expect(cancel).toHaveBeenCalledWith('s1')
    expect(useToasts().toasts).toEqual([])
  })
})
