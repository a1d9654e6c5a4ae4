/** OpenAI's error envelope, which every failing route answers with. */
export interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null }
}

/** Whether a parsed body is OpenAI's error envelope (what this service and OpenAI answer a failure with). */
export function isErrorEnvelope(v: unknown): v is ErrorEnvelope {
  if (typeof v !== 'object' || v === null || !('error' in v)) return false
  const e = (v as { error: unknown }).error
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string'
}

/**
 * The message of an engine's error body: OpenAI's envelope, or the shapes vLLM and other servers answer with
 * (`{error: "..."}`, `{message}`, FastAPI's `{detail}`); else the body's first 500 characters.
 */
export function errorMessageOf(body: string | null): string | null {
  if (!body) return null
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown }
    if (typeof parsed.error === 'object' && typeof parsed.error?.message === 'string') return parsed.error.message
    if (typeof parsed.error === 'string') return parsed.error
    if (typeof parsed.message === 'string') return parsed.message
    if (typeof parsed.detail === 'string') return parsed.detail
  } catch {
    // not JSON
  }
  return body.slice(0, 500)
}
