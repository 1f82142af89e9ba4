/**
 * The report-language list of the new-research form: grouped by how each language would be
 * translated on this server, so the ones that really get a translation come first and a choice
 * that leaves the report in English is visible before the run starts.
 */
import type { LanguageOption, TranslationMethod } from '@/api/client'

export interface LanguageGroup {
  label: string
  options: LanguageOption[]
}

const GROUPS: ReadonlyArray<{ methods: TranslationMethod[]; label: string }> = [
  { methods: ['source', 'apertium'], label: 'Translated offline (Apertium)' },
  { methods: ['llm'], label: 'Translated by the language model' },
  { methods: ['none'], label: 'English only: no translator on this server' },
]

/** Non-empty groups in the order above; the source language first, then by name. */
export function groupLanguages(languages: readonly LanguageOption[]): LanguageGroup[] {
  const byName = (a: LanguageOption, b: LanguageOption): number =>
    Number(b.translation === 'source') - Number(a.translation === 'source') || a.name.localeCompare(b.name)
  return GROUPS.map((g) => ({
    label: g.label,
    options: languages.filter((l) => g.methods.includes(l.translation)).sort(byName),
  })).filter((g) => g.options.length > 0)
}

/** The option's text: `Catalan (ca) · Apertium`, `French (fr) · English only`. */
export function optionLabel(l: LanguageOption): string {
  const tag = { source: 'original', apertium: 'Apertium', llm: 'language model', none: 'English only' }[l.translation]
  return `${l.name} (${l.code}) · ${tag}`
}

/** The sentence under the list saying how the chosen language's report will be produced. */
export function translationNote(l: LanguageOption): string {
  switch (l.translation) {
    case 'source':
      return `The report is written in ${l.name}: nothing to translate.`
    case 'apertium':
      return `The report is written in English, then translated into ${l.name} offline (${l.via}).`
    case 'llm':
      return `The report is written in English, then translated into ${l.name} by the configured language model.`
    case 'none':
      return l.via || `No offline translator for ${l.name}: the report will be in English only.`
  }
}
