import type { BatchErrorEntry, BatchObject, BatchStatus } from '../contract/batches'
import type { BatchPriority, BatchProgress, Hold } from '../contract/jobs'

/** The columns a new batch is given when it is created. */
interface GivenColumns {
  id: string
  endpoint: string
  input_file_id: string
  completion_window: string
  status: BatchStatus
  created_at: number
  expires_at: number
}
const GIVEN: Record<keyof GivenColumns, true> = {
  id: true, endpoint: true, input_file_id: true, completion_window: true, status: true, created_at: true, expires_at: true,
}

/** Every other column of `batches`, with the value a new batch starts with. JSON columns are kept as text. */
const DEFAULTS = {
  model: null as string | null,
  /** JSON of BatchErrorEntry[]. */
  errors: null as string | null,
  output_file_id: null as string | null,
  error_file_id: null as string | null,
  in_progress_at: null as number | null,
  finalizing_at: null as number | null,
  completed_at: null as number | null,
  failed_at: null as number | null,
  expired_at: null as number | null,
  cancelling_at: null as number | null,
  cancelled_at: null as number | null,
  total: 0,
  completed: 0,
  failed: 0,
  input_tokens: 0,
  cached_tokens: 0,
  output_tokens: 0,
  reasoning_tokens: 0,
  /** JSON of the client's metadata. */
  metadata: null as string | null,
  output_expires_after: null as number | null,
  /** What the status is busy with ('writing the output files'), shown with the job. */
  status_detail: null as string | null,
  /** JSON of the job's Hold: why it waits. */
  hold: null as string | null,
  /** JSON of BatchProgress while the batch runs. */
  progress: null as string | null,
  /** Epoch ms: when the first of its requests was sent and the last answered (its wall time, for tokens/s). */
  first_started_at: null as number | null,
  last_finished_at: null as number | null,
  /** Starts of this batch's validation not ended by a verdict or a clean stop; read only while it validates (see BatchService.recover). */
  validation_attempts: 0,
  /** Where it goes in the queue: high before normal before low (batch/queue-order.ts). */
  priority: 'normal' as BatchPriority,
}

/** A batches row as stored: the one definition the columns, the insert and the Batch object come from. */
export type BatchRow = GivenColumns & typeof DEFAULTS

/** The columns of `batches` this code reads and writes, in the order of BatchRow. */
export const BATCH_COLUMNS = [...Object.keys(GIVEN), ...Object.keys(DEFAULTS)] as (keyof BatchRow)[]

/** A new row: the given columns, everything else at its default. */
export function newBatchRow(given: GivenColumns & Partial<typeof DEFAULTS>): BatchRow {
  return { ...DEFAULTS, ...given }
}

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

/** The hold kept on a row, or null. */
export function holdOfRow(row: Pick<BatchRow, 'hold'>): Hold | null {
  return row.hold ? (JSON.parse(row.hold) as Hold) : null
}

/** The progress kept on a row (from the last run), or null. */
export function progressOfRow(row: Pick<BatchRow, 'progress'>): BatchProgress | null {
  return row.progress ? (JSON.parse(row.progress) as BatchProgress) : null
}
