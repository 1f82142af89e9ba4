/**
 * What a run that did not finish should say to the person who started it: one headline in
 * plain words, what they can do, and the technical text (which may name server settings such
 * as `TK9_CORPUS_DIR`) kept apart so the page can put it behind a disclosure.
 */
import type { AgentName, RunStatus } from '@/generated/wire'

export interface FailureExplanation {
  headline: string
  advice: string
  /** The server's own words, for whoever runs tk9; empty when there are none. */
  detail: string
}

const AGENT_WORK: Record<string, string> = {
  Browser: 'finding sources',
  Editor: 'planning the report',
  Researcher: 'gathering evidence',
  Writer: 'writing the report',
  Publisher: 'publishing the files',
  Translator: 'translating the report',
}

const SETUP = /TK9_[A-Z_]+|corpus is empty|no documents|search provider|--corpus/i

/** The agent named at the start of a runner error (`"Browser failed: …"`), if any. */
export function failedAgent(error: string | null): AgentName | null {
  const m = /^(Browser|Editor|Researcher|Writer|Publisher|Translator) failed: /.exec(error ?? '')
  return m ? (m[1] as AgentName) : null
}

export function explainFailure(status: RunStatus, error: string | null): FailureExplanation {
  const detail = (error ?? '').trim()
  if (status === 'cancelled') {
    return { headline: 'You cancelled this run.', advice: 'Nothing more will be written. You can run it again, as it was or edited.', detail: '' }
  }
  if (status === 'interrupted') {
    return {
      headline: 'The server stopped while this run was in progress.',
      advice: 'Files written before the stop are kept. Run it again to get a complete report.',
      detail,
    }
  }
  const agent = failedAgent(error)
  const where = agent ? ` while ${AGENT_WORK[agent] ?? 'working'} (${agent})` : ''
  if (SETUP.test(detail)) {
    return {
      headline: `The run stopped${where}: this server has no documents to research yet.`,
      advice: 'Ask whoever runs tk9 to add a document collection, then retry.',
      detail,
    }
  }
  if (/^internal error|internal error:/i.test(detail.replace(/^\w+ failed: /, ''))) {
    return { headline: `Something went wrong inside tk9${where}.`, advice: 'Retrying often helps; if it fails again, tell whoever runs tk9.', detail }
  }
  return { headline: `The run stopped${where}.`, advice: 'Retry it as it was, or edit the subject first.', detail }
}
