/** The tab's title follows the page (and, on a session, its run status): `⚠ Completed with warnings · Heat pumps — tk9`. */
import { watchEffect } from 'vue'

export function useDocumentTitle(title: () => string): void {
  watchEffect(() => {
    const t = title()
    document.title = t ? `${t} — tk9` : 'tk9 — deep research'
  })
}
