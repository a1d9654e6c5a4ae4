import type { BatchRow } from '../store/batches-repo'
import type { BatchErrorEntry, BatchObject } from '../contract/batches'

/** The OpenAI Batch object for a stored row: every key present, null where unset. */
export function toBatchObject(row: BatchRow): BatchObject {
  const errors = row.errors ? (JSON.parse(row.errors) as BatchErrorEntry[]) : null
  return {
    id: row.id,
    object: 'batch',
    endpoint: row.endpoint,
    model: row.model,
    errors: errors ? { object: 'list', data: errors } : null,
    input_file_id: row.input_file_id,
    completion_window: row.completion_window,
    status: row.status,
    output_file_id: row.output_file_id,
    error_file_id: row.error_file_id,
    created_at: row.created_at,
    in_progress_at: row.in_progress_at,
    expires_at: row.expires_at,
    finalizing_at: row.finalizing_at,
    completed_at: row.completed_at,
    failed_at: row.failed_at,
    expired_at: row.expired_at,
    cancelling_at: row.cancelling_at,
    cancelled_at: row.cancelled_at,
    request_counts: { total: row.total, completed: row.completed, failed: row.failed },
    usage: {
      input_tokens: row.input_tokens,
      input_tokens_details: { cached_tokens: row.cached_tokens },
      output_tokens: row.output_tokens,
      output_tokens_details: { reasoning_tokens: row.reasoning_tokens },
      total_tokens: row.input_tokens + row.output_tokens,
    },
    metadata: row.metadata ? (JSON.parse(row.metadata) as Record<string, string>) : null,
  }
}
