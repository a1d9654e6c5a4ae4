import type { ComparisonRow, ExportFormat } from '../contract/comparisons'

/** The content type and file name of an export. */
export function exportMedia(format: ExportFormat, id: string): { type: string; filename: string } {
  return format === 'csv' ? { type: 'text/csv; charset=utf-8', filename: `${id}.csv` } : { type: 'application/x-ndjson; charset=utf-8', filename: `${id}-${format}.jsonl` }
}

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; quotes doubled. */
function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
}

/** The prompt as one text (the chat's messages as `role: content` lines), for the CSV. */
function promptText(prompt: unknown): string {
  if (typeof prompt === 'string') return prompt
  if (Array.isArray(prompt)) {
    return prompt
      .map((m) => {
        if (typeof m === 'string') return m
        if (m && typeof m === 'object' && 'role' in m) {
          const content = (m as { content?: unknown }).content
          const text = typeof content === 'string' ? content : JSON.stringify(content)
          return `${String((m as { role: unknown }).role)}: ${text}`
        }
        return JSON.stringify(m)
      })
      .join('\n')
  }
  return prompt === null || prompt === undefined ? '' : JSON.stringify(prompt)
}

/** The chat messages a prompt stands for (a completion prompt becomes one user message). */
function messagesOf(prompt: unknown): unknown[] {
  if (Array.isArray(prompt) && prompt.every((m) => m && typeof m === 'object' && 'role' in m)) return prompt
  return [{ role: 'user', content: promptText(prompt) }]
}

const answerText = (row: ComparisonRow, model: string): string | null => {
  const a = row.answers[model]
  return a && a.state === 'succeeded' ? a.text : null
}

/**
 * The lines of an export, one call per row (and a header for CSV):
 * - csv / jsonl: every row with each model's answer, the vote and the note;
 * - preference: rows a model won, as prompt / chosen / rejected (TRL's conversational preference format), one
 *   line per model it beat;
 * - finetune: rows a model won, as OpenAI chat fine-tuning lines: the prompt's messages and the winning answer.
 */
export function exportLines(format: ExportFormat, models: readonly string[], row: ComparisonRow | null): string[] {
  if (row === null) {
    return format === 'csv' ? [`${['custom_id', 'prompt', ...models.map((m) => `answer: ${m}`), 'winner', 'note'].map(csvField).join(',')}\r\n`] : []
  }
  const winner = row.vote?.winner ?? null
  switch (format) {
    case 'csv':
      return [`${[row.custom_id, promptText(row.prompt), ...models.map((m) => row.answers[m]?.text ?? ''), winner ?? '', row.vote?.note ?? ''].map(csvField).join(',')}\r\n`]
    case 'jsonl':
      return [
        `${JSON.stringify({ custom_id: row.custom_id, prompt: row.prompt, answers: Object.fromEntries(models.map((m) => [m, row.answers[m]?.text ?? null])), winner, note: row.vote?.note ?? null })}\n`,
      ]
    case 'preference': {
      if (winner === null || !models.includes(winner)) return []
      const chosen = answerText(row, winner)
      if (chosen === null) return []
      return models
        .filter((m) => m !== winner && answerText(row, m) !== null)
        .map(
          (m) =>
            `${JSON.stringify({ prompt: messagesOf(row.prompt), chosen: [{ role: 'assistant', content: chosen }], rejected: [{ role: 'assistant', content: answerText(row, m) }] })}\n`,
        )
    }
    case 'finetune': {
      if (winner === null || !models.includes(winner)) return []
      const chosen = answerText(row, winner)
      if (chosen === null) return []
      return [`${JSON.stringify({ messages: [...messagesOf(row.prompt), { role: 'assistant', content: chosen }] })}\n`]
    }
  }
}
