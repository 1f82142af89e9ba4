/**
 * Vue wrapper around `SessionStream`: the connection state as refs, and the stream stopped
 * automatically when the owning effect scope (component or store) goes away.
 */
import { getCurrentScope, onScopeDispose, type Ref, ref, shallowRef } from 'vue'
import { reportUnauthorized } from '@/api/client'
import { CLOSE_CODES } from '@/generated/wire'
import { parsePreference, type TransportPreference } from '@/transport/policy'
import {
  type ConnectionState,
  SessionStream,
  type StreamConsumer,
  type StreamOptions,
  type TransportKind,
} from '@/transport/sessionStream'

export interface UseSessionStream {
  connection: Ref<ConnectionState>
  transport: Ref<TransportKind | null>
  /** Set when the server closed the stream for good (terminal close code). */
  terminal: Ref<{ code: number; reason: string } | null>
  start(sessionId: string, consumer: StreamConsumer, extra?: StreamOptions): void
  stop(): void
}

/**
 * The transport forced by `?transport=ws|sse|poll` or localStorage `tk9.transport` (for tests
 * and for networks known to block WebSocket); `auto` otherwise.
 */
export function transportPreference(): TransportPreference {
  const fromQuery = new URLSearchParams(globalThis.location?.search ?? '').get('transport')
  if (fromQuery) return parsePreference(fromQuery)
  try {
    return parsePreference(globalThis.localStorage?.getItem('tk9.transport'))
  } catch {
    return 'auto'
  }
}

/** Close code of a stream refused for lack of credentials (`tk9.errors.CloseCode`). */
const UNAUTHORIZED = CLOSE_CODES.UNAUTHORIZED

export function useSessionStream(options: StreamOptions = {}): UseSessionStream {
  const connection = ref<ConnectionState>('reconnecting')
  const transport = ref<TransportKind | null>(null)
  const terminal = ref<{ code: number; reason: string } | null>(null)
  const current = shallowRef<SessionStream | null>(null)

  function stop(): void {
    current.value?.stop()
    current.value = null
  }

  function start(sessionId: string, consumer: StreamConsumer, extra: StreamOptions = {}): void {
    stop()
    terminal.value = null
    const stream = new SessionStream(
      sessionId,
      {
        ...consumer,
        onConnection(state, kind) {
          connection.value = state
          transport.value = kind
          consumer.onConnection?.(state, kind)
        },
        onTerminal(code, reason) {
          terminal.value = { code, reason }
          if (code === UNAUTHORIZED) reportUnauthorized() // signed out meanwhile: to the login
          consumer.onTerminal?.(code, reason)
        },
      },
      { preference: transportPreference(), ...options, ...extra },
    )
    current.value = stream
    connection.value = stream.state
    stream.start()
  }

  if (getCurrentScope()) onScopeDispose(stop)
  return { connection, transport, terminal, start, stop }
}
