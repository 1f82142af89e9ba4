/**
 * `useSessionsFeed`: the sessions page's live list arrives as `sessions` events of one
 * EventSource; a stream the browser retries is left to it, one refused for good reports once.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createApp, defineComponent, h } from 'vue'
import type { SessionList } from '@/api/client'
import { useSessionsFeed } from '@/composables/useSessionsFeed'
import { FakeEventSource } from './fakes/network'

function mountFeed(pages: SessionList[], lost: string[]) {
  const Host = defineComponent({
    setup() {
      useSessionsFeed({
        limit: 50,
        onPage: (p) => pages.push(p),
        onLost: () => lost.push('lost'),
        EventSource: FakeEventSource as unknown as typeof EventSource,
      })
      return () => h('div')
    },
  })
  const app = createApp(Host)
  app.mount(document.createElement('div'))
  return app
}

const row = { session_id: 's1', subject: 'Tidal power', language: 'en', status: 'running', progress: 10, created_at: 1, warning_count: 0 } as const

describe('useSessionsFeed', () => {
  afterEach(() => FakeEventSource.reset())

  it('hands every pushed page over, and closes the stream with the page', () => {
    const pages: SessionList[] = []
    const lost: string[] = []
    const app = mountFeed(pages, lost)
    const es = FakeEventSource.last()
    expect(es.url).toBe('/api/feed/sessions?limit=50')
    es.emit('sessions', { sessions: [], next_cursor: null })
    es.emit('sessions', { sessions: [row], next_cursor: null })
    expect(pages.map((p) => p.sessions.length)).toEqual([0, 1])
    es.fail() // readyState CONNECTING: the browser retries by itself
    expect(lost).toEqual([])
    app.unmount()
    expect(es.closed).toBe(true)
  })

  it('reports a stream refused for good once', () => {
    const lost: string[] = []
    mountFeed([], lost)
    const es = FakeEventSource.last()
    es.readyState = 2
    es.fail()
    es.fail()
    expect(lost).toEqual(['lost'])
  })
})
