// Markdown for the policy explainers' live preview: markdown-it with raw HTML off, then
// DOMPurify on its output, so what reaches v-html is sanitised twice over. Neither library
// uses eval, so the console's CSP (no 'unsafe-eval') holds. Links open in a new tab.
import MarkdownIt from 'markdown-it'
import DOMPurify from 'dompurify'

const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false })

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank')
    node.setAttribute('rel', 'noopener noreferrer')
  }
})

export function renderMarkdown(src: string): string {
  return DOMPurify.sanitize(md.render(src), { USE_PROFILES: { html: true } })
}
