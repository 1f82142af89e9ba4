/**
 * Markdown → safe HTML for the preview and the reader: markdown-it with raw HTML off, then
 * DOMPurify. Both libraries are imported on first use, so no page pays for them up front.
 *
 * The report's citation markers `[n]` become links to the n-th entry of its reference list (the
 * ordered list under the last `##` heading, which gets the ids `ref-1`, `ref-2`, …), titled
 * with that entry's text. This is a markdown-it token rule; DOMPurify still has the last word.
 */
import type { MarkdownIt, StateCore, Token } from 'markdown-it'
const CITE = /\[(\d{1,4})\]/g

/** Mark the reference list's items and return their text, by number. */
function references(tokens: Token[]): Map<number, string> {
  const refs = new Map<number, string>()
  let lastH2 = -1
  tokens.forEach((t, i) => {
    if (t.type === 'heading_open' && t.tag === 'h2') lastH2 = i
  })
  if (lastH2 < 0) return refs
  const list = tokens.findIndex((t, i) => i > lastH2 && t.type === 'ordered_list_open')
  if (list < 0) return refs
  let n = 0
  for (let i = list + 1; i < tokens.length && tokens[i]?.type !== 'ordered_list_close'; i++) {
    const t = tokens[i] as Token
    if (t.type === 'list_item_open') {
      n++
      t.attrSet('id', `ref-${n}`)
    } else if (t.type === 'inline' && n > 0 && !refs.has(n)) refs.set(n, t.content)
  }
  return refs
}

function linkCitations(md: MarkdownIt): void {
  md.core.ruler.push('tk9_citations', (state: StateCore) => {
    const refs = references(state.tokens)
    if (!refs.size) return
    for (const block of state.tokens) {
      if (block.type !== 'inline' || !block.children) continue
      if (block.map && block.content && [...refs.values()].includes(block.content)) continue
      const out: Token[] = []
      for (const child of block.children) {
        if (child.type !== 'text' || !/\[\d{1,4}\]/.test(child.content)) {
          out.push(child)
          continue
        }
        let last = 0
        for (const m of child.content.matchAll(CITE)) {
          const n = Number(m[1])
          const title = refs.get(n)
          if (!title) continue
          const at = m.index ?? 0
          if (at > last) out.push(Object.assign(new state.Token('text', '', 0), { content: child.content.slice(last, at) }))
          const open = new state.Token('link_open', 'a', 1)
          open.attrs = [['href', `#ref-${n}`], ['class', 'cite'], ['title', title]]
          out.push(open, Object.assign(new state.Token('text', '', 0), { content: m[0] }), new state.Token('link_close', 'a', -1))
          last = at + m[0].length
        }
        if (last < child.content.length) out.push(Object.assign(new state.Token('text', '', 0), { content: child.content.slice(last) }))
      }
      block.children = out
    }
  })
}

let loading: Promise<(markdown: string) => string> | null = null

/** The renderer, loaded once. */
export function loadRenderer(): Promise<(markdown: string) => string> {
  loading ??= Promise.all([import('markdown-it'), import('dompurify')]).then(([{ default: MarkdownItCtor }, { default: DOMPurify }]) => {
    const md = new MarkdownItCtor({ html: false, linkify: true })
    linkCitations(md)
    return (markdown: string) => DOMPurify.sanitize(md.render(markdown))
  })
  return loading
}
