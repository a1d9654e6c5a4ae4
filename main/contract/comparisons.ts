import type { BatchStatus } from './batches'
import type { BatchProgress } from './jobs'
import type { ResultState } from './results'

/** What a person decided about one row: which model answered best, a tie, or that both (all) were bad. */
export type VoteChoice = string | 'tie' | 'both_bad'
export const VOTE_OUTCOMES = ['tie', 'both_bad'] as const

export interface Vote {
  custom_id: string
  /** A model id of the comparison, `tie` or `both_bad`. */
  winner: VoteChoice
  note: string | null
  /** Epoch seconds. */
  updated_at: number
}

/**
 * The body of POST /api/comparisons: one file run on 2 to 4 models (one batch each, its `model` replaced), or
 * batches that exist (any sharing custom_ids).
 */
export type NewComparison =
  | { input_file_id: string; models: string[]; name?: string; endpoint?: string }
  | { batch_ids: string[]; name?: string }

/** The body of PUT /api/comparisons/{id}/votes/{custom_id}. */
export interface NewVote {
  winner: VoteChoice
  note?: string | null
}

/** How one model did in a comparison. */
export interface ComparisonArm {
  model: string
  batch_id: string
  status: BatchStatus
  progress: BatchProgress | null
  total: number
  completed: number
  failed: number
  mean_latency_ms: number | null
  p95_latency_ms: number | null
  /** Output tokens per second of the batch's wall time (first request sent to last answer). */
  tokens_per_second: number | null
  mean_output_tokens: number | null
  /**
   * Of the rows this model and another both answered, the share where the answers are the same: exactly, and
   * once case, punctuation and spacing are set aside; the mean over the other models. Null before any such row.
   */
  agreement: { exact: number | null; normalized: number | null }
  /** Votes this model won, its share of all votes, and the 95% (Wilson) interval of that share. */
  wins: number
  win_rate: number | null
  win_rate_interval: [number, number] | null
}

/** `GET /api/comparisons/{id}` (and what `POST /api/comparisons` answers). */
export interface Comparison {
  id: string
  object: 'comparison'
  name: string | null
  /** The file run on every model, or null for a comparison of batches that existed. */
  input_file_id: string | null
  created_at: number
  models: string[]
  arms: ComparisonArm[]
  /** Rows: the custom_ids of the first batch (the others are matched to them). */
  rows: number
  votes: { total: number; tie: number; both_bad: number }
}

export interface ComparisonList {
  object: 'list'
  data: Comparison[]
  has_more: boolean
}

/** One model's answer in a row of the comparison. */
export interface ArmAnswer {
  state: ResultState
  /** The answer's text, or the error's message; null while pending. */
  text: string | null
  latency_ms: number | null
  output_tokens: number | null
}

/** `GET /api/comparisons/{id}/rows`: rows aligned by custom_id, the prompt once, each model's answer. */
export interface ComparisonRow {
  custom_id: string
  /** Line in the first batch's input. */
  line: number
  /** The request's messages (chat), prompt (completions) or input (embeddings); null when its file is gone. */
  prompt: unknown
  /** Model id -> its answer; null when that batch has no request with this custom_id. */
  answers: Record<string, ArmAnswer | null>
  /** Whether the answers differ once normalised (only rows every model answered can differ). */
  differs: boolean
  vote: Vote | null
}

export interface ComparisonRowPage {
  object: 'list'
  data: ComparisonRow[]
  total: number
  has_more: boolean
}

export const EXPORT_FORMATS = ['csv', 'jsonl', 'preference', 'finetune'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]
