/**
 * The session store: a thin Pinia setup store over the pure reducer.
 *
 * `open(id)` loads the snapshot (`GET /api/sessions/{id}`) and subscribes from its cursor
 * (epoch, seq). Every event goes through `applyEvent`; a gap throws inside the transport's
 * `apply`, which makes the transport resume from `state.seq`. A `reset` replaces the state.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import { ApiError, api } from '@/api/client'
import { useSessionStream } from '@/composables/useSessionStream'
import type { Event, SessionState } from '@/generated/wire'
import { AGENTS, applyEvent, TERMINAL_RUN_STATUSES } from '@/state/reducer'
import type { StreamOptions } from '@/transport/sessionStream'
import { useToasts } from './toasts'

export interface SessionStoreDeps {
  snapshot?: (id: string) => Promise<SessionState>
  streamOptions?: StreamOptions
}

export const useSessionStore = defineStore('session', () => {
  const state = shallowRef<SessionState | null>(null)
  const loading = ref(false)
  const error = ref<string | null>(null)
  const applied = ref(0)
  const stream = useSessionStream()
  let deps: SessionStoreDeps = {}

  /** Inject fakes (tests) before `open`. */
  function configure(next: SessionStoreDeps): void {
    deps = next
  }

  const overall = computed(() => {
    const s = state.value
    if (!s) return 0
    if (s.status === 'completed' || s.status === 'completed_with_warnings') return 100
    const fromAgents = AGENTS.reduce((sum, a) => sum + s.agents[a].progress, 0) / AGENTS.length
    return Math.round(Math.max(s.progress, fromAgents))
  })
  const finished = computed(() => !!state.value && TERMINAL_RUN_STATUSES.has(state.value.status))

  function announceTransition(before: SessionState, after: SessionState): void {
    if (before.status === after.status || !TERMINAL_RUN_STATUSES.has(after.status)) return
    const subject = after.subject.length > 80 ? `${after.subject.slice(0, 77)}…` : after.subject
    const toasts = useToasts()
    if (after.status === 'completed') toasts.announce('success', 'Research finished', subject)
    else if (after.status === 'completed_with_warnings') {
      const n = after.warnings.length
      toasts.announce('warning', `Research finished with ${n} warning${n === 1 ? '' : 's'}`, after.warnings[0] ?? subject)
    } else if (after.status === 'cancelled') toasts.push('info', `Research cancelled: ${subject}`)
    // The reason is told once, on the page; the toast only says that the run stopped.
    else toasts.announce('error', `Research ${after.status}`, subject)
  }

  function apply(event: Event): void {
    const before = state.value
    if (!before) throw new Error('no session open')
    const after = applyEvent(before, event) // throws GapError / EpochMismatchError -> resume
    if (after !== before) {
      state.value = after
      applied.value++
      announceTransition(before, after)
    }
  }

  function reset(snapshot: SessionState): void {
    const before = state.value
    state.value = snapshot
    if (before) announceTransition(before, snapshot)
  }

  async function open(id: string): Promise<void> {
    close()
    loading.value = true
    error.value = null
    state.value = null
    applied.value = 0
    try {
      state.value = await (deps.snapshot ?? api.snapshot)(id)
    } catch (err) {
      error.value = err instanceof ApiError && err.status === 404 ? 'No such session.' : String((err as Error).message ?? err)
      return
    } finally {
      loading.value = false
    }
    const cursor = (): { epoch: string; seq: number } => ({
      epoch: state.value?.epoch ?? '',
      seq: state.value?.seq ?? 0,
    })
    stream.start(id, { cursor, apply, reset }, deps.streamOptions)
  }

  function close(): void {
    stream.stop()
  }

  return {
    state,
    loading,
    error,
    applied,
    overall,
    finished,
    connection: stream.connection,
    transport: stream.transport,
    terminal: stream.terminal,
    configure,
    open,
    close,
    apply,
    reset,
  }
})
