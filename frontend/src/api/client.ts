/**
 * The REST calls the dashboard makes, on the page's own origin. Errors come back as
 * `ApiError` carrying the server's `{code, message, retryable}`.
 */
import type {
  AppConfig,
  CancelResult,
  CorpusInfo,
  LanguageOption,
  SessionCreated,
  SessionList,
  SessionState,
  SessionSummary,
} from '@/generated/wire'

/* The REST bodies are generated from the server's pydantic models (scripts/gen_types.py). */
export type { AppConfig, CorpusInfo, LanguageOption, SessionList, SessionSummary }

/** How a report reaches a language: it is the source, Apertium (offline), the LLM, or not at all. */
export type TranslationMethod = LanguageOption['translation']

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryable = false,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

let unauthorized: (() => void) | null = null

/** Called on any 401 outside `/api/auth/` (the session expired): the router shows the login. */
export function onUnauthorized(handler: (() => void) | null): void {
  unauthorized = handler
}

/** Report a refusal for lack of credentials seen elsewhere (a stream closed with 4401). */
export function reportUnauthorized(): void {
  unauthorized?.()
}

export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, {
      credentials: 'same-origin',
      ...init,
      headers: { Accept: 'application/json', ...init.headers },
    })
  } catch (err) {
    throw new ApiError(0, 'network', `network error: ${String(err)}`, true)
  }
  if (response.status === 401 && !path.startsWith('/api/auth/')) unauthorized?.()
  if (!response.ok) {
    let code = 'http_error'
    let message = `HTTP ${response.status}`
    let retryable = response.status >= 500
    try {
      const body = (await response.json()) as { error?: { code: string; message: string; retryable?: boolean } }
      if (body.error) ({ code, message } = body.error)
      if (body.error?.retryable !== undefined) retryable = body.error.retryable
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, code, message, retryable)
  }
  if (response.status === 204) return undefined as T
  return (await response.json()) as T
}

const enc = encodeURIComponent
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  body: JSON.stringify(body),
  headers: { 'Content-Type': 'application/json' },
})

/** A language's English name from the browser's own tables (`fr` -> `French`). */
export function languageName(code: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(code) ?? code
  } catch {
    return code
  }
}

/**
 * Normalise `/api/config` languages: the server sends `{code, name, translation, via}` objects;
 * an older one sent bare codes plus `translation_targets`, from which the method is guessed.
 */
function normaliseConfig(raw: Partial<AppConfig> & { languages?: unknown[] }): AppConfig {
  const source = raw.source_language ?? 'en'
  const targets = raw.translation_targets ? new Set(raw.translation_targets) : null
  const languages = (raw.languages ?? []).map((l): LanguageOption => {
    const o: Partial<LanguageOption> = typeof l === 'string' ? { code: l } : (l as Partial<LanguageOption>)
    const code = String(o.code)
    const guessed: TranslationMethod = code === source ? 'source' : !targets || targets.has(code) ? 'apertium' : 'none'
    const translation = o.translation ?? guessed
    return { code, name: String(o.name ?? languageName(code)), translation, via: String(o.via ?? '') }
  })
  return {
    languages,
    source_language: source,
    translation_targets: raw.translation_targets ?? languages.map((l) => l.code),
    engines: raw.engines ?? [],
    min_subject: raw.min_subject ?? 1,
    max_subject: raw.max_subject ?? 1000,
    heartbeat_interval: raw.heartbeat_interval ?? 15,
    heartbeat_timeout: raw.heartbeat_timeout ?? 10,
    demo: raw.demo ?? false,
    corpus: raw.corpus ?? null,
  }
}

export const api = {
  config: async () => normaliseConfig(await request('/api/config')),
  listSessions: async () => (await request<SessionList>('/api/sessions')).sessions,
  /** One page of the caller's sessions, newest first; pass `next_cursor` for the next one. */
  sessionsPage: (cursor: string | null = null, limit = 50) =>
    request<SessionList>(`/api/sessions?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`),
  createSession: (subject: string, language: string) =>
    request<SessionCreated>('/api/sessions', json({ subject, language })),
  snapshot: (id: string) => request<SessionState>(`/api/sessions/${enc(id)}`),
  cancel: (id: string) => request<CancelResult>(`/api/sessions/${enc(id)}/cancel`, { method: 'POST' }),
  deleteSession: (id: string) => request<void>(`/api/sessions/${enc(id)}`, { method: 'DELETE' }),
  fileUrl: (id: string, name: string, inline = false) =>
    `/api/sessions/${enc(id)}/files/${enc(name)}${inline ? '?inline=1' : ''}`,
  zipUrl: (id: string) => `/api/sessions/${enc(id)}/files.zip`,
  fileText: async (id: string, name: string): Promise<string> => {
    const r = await fetch(`/api/sessions/${enc(id)}/files/${enc(name)}?inline=1`)
    if (r.status === 401) unauthorized?.()
    if (!r.ok) throw new ApiError(r.status, 'file', `cannot load ${name}: HTTP ${r.status}`)
    return r.text()
  },
  fileBytes: async (id: string, name: string): Promise<ArrayBuffer> => {
    const r = await fetch(`/api/sessions/${enc(id)}/files/${enc(name)}`)
    if (r.status === 401) unauthorized?.()
    if (!r.ok) throw new ApiError(r.status, 'file', `cannot load ${name}: HTTP ${r.status}`)
    return r.arrayBuffer()
  },
}
