/**
 * DOCX → safe HTML for the reader and the preview: mammoth (its self-contained browser build)
 * turns the Word document into plain semantic HTML — headings, paragraphs, lists, tables, links
 * — and DOMPurify has the last word, as for Markdown. Both are imported on first use, so no
 * page pays for them up front (mammoth is by far the largest chunk of the app).
 */

let loading: Promise<(data: ArrayBuffer) => Promise<string>> | null = null

/** The converter, loaded once. */
export function loadDocxRenderer(): Promise<(data: ArrayBuffer) => Promise<string>> {
  loading ??= Promise.all([import('mammoth/mammoth.browser.min.js'), import('dompurify')]).then(([mammoth, { default: DOMPurify }]) => {
    const convert = mammoth.convertToHtml ?? (mammoth as unknown as { default: typeof mammoth }).default.convertToHtml
    return async (data: ArrayBuffer) => DOMPurify.sanitize((await convert({ arrayBuffer: data })).value)
  })
  return loading
}
