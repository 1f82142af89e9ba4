/**
 * The sessions page's live list: `GET /api/feed/sessions` (Server-Sent Events,
 * `tk9.server.api_feed`) pushes the first page of the caller's listing at once and again
 * whenever it changes — a session created, its status or progress changed, or deleted. No
 * polling: the browser's `EventSource` reconnects by itself after a network error; a stream the
 * server refused for good (401, …) reports `onLost` once.
 */
import { onMounted, onUnmounted } from 'vue'
import type { SessionList } from '@/api/client'

export interface FeedOptions {
  limit: number
  onPage: (page: SessionList) => void
  onLost: () => void
  /** Injected by tests; the page's own `EventSource` otherwise (none: no live updates). */
  EventSource?: typeof EventSource
}

export const feedUrl = (limit: number): string => `/api/feed/sessions?limit=${limit}`

export function useSessionsFeed(o: FeedOptions): void {
  let source: EventSource | null = null
  onMounted(() => {
    const Ctor = o.EventSource ?? globalThis.EventSource
    if (!Ctor) return
    const es = new Ctor(feedUrl(o.limit))
    source = es
    es.addEventListener('sessions', (m) => {
      try {
        o.onPage(JSON.parse((m as MessageEvent<string>).data) as SessionList)
      } catch {
        /* a torn message: the next one carries the whole page again */
      }
    })
    es.onerror = () => {
      if (es.readyState === 2 /* CLOSED: refused, not retried */ && source === es) {
        source = null
        o.onLost()
      }
    }
  })
  onUnmounted(() => {
    source?.close()
    source = null
  })
}
