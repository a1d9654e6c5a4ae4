import type { BatchEndpoint } from '../main/contract/batches'
import { REQUIRED_BODY_FIELD } from '../main/contract/batch-line'

/** One prompt to turn into a request: its custom_id, the line it came from, and the values of its columns. */
export interface PromptRow {
  line: number
  id: string
  values: Record<string, string>
}

export interface MakeOptions {
  model: string
  endpoint: BatchEndpoint
  /** `{column}` placeholders; `{{` and `}}` are literal braces. */
  template: string
  system?: string
  maxTokens?: number
}

export class TemplateError extends Error {}

/** The column names a template uses, in order (each once). */
export function templateColumns(template: string): string[] {
  const names: string[] = []
  for (const part of tokens(template)) if (part.kind === 'column' && !names.includes(part.name)) names.push(part.name)
  return names
}

type Token = { kind: 'text'; text: string } | { kind: 'column'; name: string }

function tokens(template: string): Token[] {
  const out: Token[] = []
  let text = ''
  for (let i = 0; i < template.length; i++) {
    const c = template[i]
    if ((c === '{' || c === '}') && template[i + 1] === c) {
      text += c
      i += 1
    } else if (c === '{') {
      const end = template.indexOf('}', i)
      if (end === -1) throw new TemplateError(`--template has a { without its }: write {{ for a literal brace`)
      if (text) out.push({ kind: 'text', text })
      text = ''
      out.push({ kind: 'column', name: template.slice(i + 1, end).trim() })
      i = end
    } else if (c === '}') {
      throw new TemplateError(`--template has a } without its {: write }} for a literal brace`)
    } else {
      text += c
    }
  }
  if (text) out.push({ kind: 'text', text })
  return out
}

export function fillTemplate(template: string, values: Record<string, string>): string {
  return tokens(template).map((t) => (t.kind === 'text' ? t.text : (values[t.name] ?? ''))).join('')
}

/** The batch input line of one prompt: `{custom_id, method, url, body}` as the Batch API takes it. */
export function requestLineOf(row: PromptRow, options: MakeOptions): string {
  const text = fillTemplate(options.template, row.values)
  const field = REQUIRED_BODY_FIELD[options.endpoint]
  let body: Record<string, unknown>
  if (field === 'messages') {
    const messages = [...(options.system ? [{ role: 'system', content: options.system }] : []), { role: 'user', content: text }]
    body = { model: options.model, messages }
  } else {
    body = { model: options.model, [field]: text }
  }
  if (options.maxTokens !== undefined && options.endpoint !== '/v1/embeddings') body.max_tokens = options.maxTokens
  return JSON.stringify({ custom_id: row.id, method: 'POST', url: options.endpoint, body })
}
