/** The results of a batch as the window and the CLI read them: `GET /api/batches/{id}/results[/{custom_id}]`. */

/** Where a request of a batch stands: answered, failed (or never ran: cancelled, expired), or still to run. */
export type ResultState = 'succeeded' | 'failed' | 'pending'
export const RESULT_STATES: readonly ResultState[] = ['succeeded', 'failed', 'pending']

export interface ResultUsage {
  input_tokens: number
  output_tokens: number
}

/** One row of the results table. */
export interface ResultSummary {
  /** 1-based line of the input file. */
  line: number
  custom_id: string
  state: ResultState
  /** The engine's HTTP status, null while pending or when it never answered. */
  status_code: number | null
  latency_ms: number | null
  usage: ResultUsage | null
  /** Why generation stopped (`stop`, `length`, ...), from the answer. */
  finish_reason: string | null
  /** The first ~200 characters of the answer, or of the error. */
  preview: string | null
}

/** `GET /api/batches/{id}/results?q=&state=&finish_reason=&offset=&limit=`. */
export interface ResultPage {
  object: 'list'
  data: ResultSummary[]
  /** Rows that match the filters, over every page. */
  total: number
  has_more: boolean
}

/** `GET /api/batches/{id}/results/{custom_id}`: one request in full. */
export interface ResultDetail extends ResultSummary {
  attempts: number
  /** The input line as it was sent ({custom_id, method, url, body}), or null when the input file is gone. */
  request: unknown
  /** The engine's answer, when there is one: its body as JSON (or text when it was not JSON). */
  response: { status_code: number; request_id: string | null; body: unknown } | null
  error: { code: string | null; message: string } | null
  /** Epoch ms. */
  started_at: number | null
  finished_at: number | null
}

/** How many of a batch's requests stopped for one reason. */
export interface FinishReasonCount {
  /** As the engine said it: `stop`, `length`, `tool_calls`, `content_filter`, or another an engine uses. */
  finish_reason: string
  count: number
}

/**
 * `GET /api/batches/{id}/finish-reasons`: why generation stopped, over the batch's answered requests, most
 * frequent first (the choices of the results' `finish_reason` filter). Requests without one (pending, failed) are
 * not counted.
 */
export interface FinishReasonList {
  object: 'list'
  data: FinishReasonCount[]
}

/** The length of a result's preview, in characters. */
export const PREVIEW_CHARS = 200
