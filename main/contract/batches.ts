/** The OpenAI batch lifecycle. */
export const BATCH_STATUSES = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled'] as const
export type BatchStatus = (typeof BATCH_STATUSES)[number]

export const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number]

/** Longest custom_id of a batch line, in characters (code points). */
export const MAX_CUSTOM_ID_CHARS = 512

/** Statuses in which a batch holds its input file and counts against the queue limits. */
export const ACTIVE_STATUSES: readonly BatchStatus[] = ['validating', 'in_progress', 'finalizing', 'cancelling']

export interface BatchErrorEntry {
  code: string
  message: string
  param: string | null
  line: number | null
}

/** The Batch object exactly as the OpenAI API returns it: every key present, null where unset. */
export interface BatchObject {
  id: string
  object: 'batch'
  endpoint: string
  model: string | null
  errors: { object: 'list'; data: BatchErrorEntry[] } | null
  input_file_id: string
  completion_window: string
  status: BatchStatus
  output_file_id: string | null
  error_file_id: string | null
  created_at: number
  in_progress_at: number | null
  expires_at: number
  finalizing_at: number | null
  completed_at: number | null
  failed_at: number | null
  expired_at: number | null
  cancelling_at: number | null
  cancelled_at: number | null
  request_counts: { total: number; completed: number; failed: number }
  usage: {
    input_tokens: number
    input_tokens_details: { cached_tokens: number }
    output_tokens: number
    output_tokens_details: { reasoning_tokens: number }
    total_tokens: number
  }
  metadata: Record<string, string> | null
}

/** `GET /v1/batches`: newest first. */
export interface BatchList {
  object: 'list'
  data: BatchObject[]
  first_id: string | null
  last_id: string | null
  has_more: boolean
}
