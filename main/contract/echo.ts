/** How much of a client's value an error message repeats. */
export const ECHO_MAX_CHARS = 100

/**
 * A client's value as an error message may repeat it: JSON-quoted (so control characters and quotes are
 * escaped) and cut to about ECHO_MAX_CHARS characters, saying how long it really was. Here, in the contract,
 * so that the batch-line rules (./batch-line) word a value the same in the service and in the dashboard.
 */
export function echo(value: unknown, max = ECHO_MAX_CHARS): string {
  let text: string
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))
  } catch {
    text = String(value)
  }
  if (text.length <= max) return JSON.stringify(text)
  return `${JSON.stringify(text.slice(0, max))}... (${text.length.toLocaleString('en-US')} characters)`
}
