/**
 * What the live log shows and exports: pure functions over the reducer's `LogLine`s, so the
 * panel (`components/LogPanel.vue`) only binds controls to them.
 */
import type { AgentName, LogLevel, LogLine } from '@/generated/wire'
import { AGENT_NAMES, LOG_LEVELS } from '@/generated/wire'

export interface LogFilter {
  minLevel: LogLevel
  query: string
  /** Agents to show; empty means every line, with or without an agent. */
  agents: ReadonlySet<AgentName>
}

export function filterLogs(logs: readonly LogLine[], f: LogFilter): LogLine[] {
  const min = LOG_LEVELS.indexOf(f.minLevel)
  const q = f.query.trim().toLowerCase()
  return logs.filter(
    (l) =>
      LOG_LEVELS.indexOf(l.level) >= min &&
      (f.agents.size === 0 || (l.agent !== null && f.agents.has(l.agent))) &&
      (!q || l.message.toLowerCase().includes(q) || (l.agent ?? '').toLowerCase().includes(q)),
  )
}

/** The agents that have at least one line, in pipeline order: one chip each. */
export function agentsInLog(logs: readonly LogLine[]): AgentName[] {
  const seen = new Set(logs.map((l) => l.agent))
  return AGENT_NAMES.filter((a) => seen.has(a))
}

/** One line per entry: ISO time, level, agent, message (tab-separated, newlines kept apart). */
export function logAsText(lines: readonly LogLine[]): string {
  return lines
    .map((l) => [new Date(l.timestamp * 1000).toISOString(), l.level.toUpperCase(), l.agent ?? '-', l.message.replace(/\r?\n/g, ' ⏎ ')].join('\t'))
    .map((row) => `${row}\n`)
    .join('')
}

export function logAsJson(lines: readonly LogLine[]): string {
  return `${JSON.stringify(lines, null, 2)}\n`
}

/** Hand `text` to the browser as a download named `name`. */
export function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 0)
}
