/** Toasts (in-page) and browser notifications (when the user allowed them). */
import { defineStore } from 'pinia'
import { ref } from 'vue'

export interface Toast {
  id: number
  kind: 'info' | 'success' | 'warning' | 'error'
  text: string
}

export const useToasts = defineStore('toasts', () => {
  const toasts = ref<Toast[]>([])
  let next = 1

  function dismiss(id: number): void {
    toasts.value = toasts.value.filter((t) => t.id !== id)
  }

  function push(kind: Toast['kind'], text: string, ttlMs = 8000): void {
    const id = next++
    toasts.value = [...toasts.value, { id, kind, text }]
    setTimeout(() => dismiss(id), ttlMs)
  }

  /** A toast, plus a system notification when permitted and the tab is not in front. */
  function announce(kind: Toast['kind'], title: string, body: string): void {
    push(kind, `${title}: ${body}`)
    const N = globalThis.Notification
    if (N && N.permission === 'granted' && globalThis.document?.visibilityState !== 'visible') {
      try {
        new N(title, { body, tag: 'tk9' })
      } catch {
        /* some browsers only allow notifications from a service worker */
      }
    }
  }

  /** Ask for notification permission (must follow a user gesture). */
  function requestPermission(): void {
    const N = globalThis.Notification
    if (N && N.permission === 'default') void N.requestPermission()
  }

  return { toasts, push, dismiss, announce, requestPermission }
})
