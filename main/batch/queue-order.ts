import type { BatchStatus } from '../contract/batches'
import type { BatchPriority, QueueReason } from '../contract/jobs'

/** A batch as the queue sees it: queued (`in_progress`, not running), or validating (a comparison's earlier arm). */
export interface QueueCandidate {
  id: string
  /** Order of creation: first come, first served. */
  seq: number
  status: BatchStatus
  model: string | null
  priority: BatchPriority
  /** Epoch ms since when it waits to run (when it was validated). */
  queuedAt: number
  /** `metadata.comparison_id`: the arms of one comparison run one after another, in the order they were made. */
  comparisonId: string | null
  /** Requests still to run. */
  remaining: number
}

export interface QueueInput {
  /** Every batch that is validating or in_progress; the running one is left out (see `running`). */
  jobs: readonly QueueCandidate[]
  /** The job that runs now: its model counts as loaded, its remaining time comes before everyone else's. */
  running: { id: string; model: string | null; comparisonId: string | null; etaSeconds: number | null } | null
  /** The job that ran last, while none runs: the next arm of its comparison follows it. */
  previous?: { comparisonId: string | null } | null
  /** Whether the model is loaded (or asleep in the warm pool): its job runs without a swap. */
  warm: (model: string) => boolean
  now: number
  /** VBS_MAX_QUEUE_WAIT_MINUTES in ms: past it, a job no longer lets jobs of a loaded model go first. */
  maxWaitMs: number
  /** Requests per second a model's jobs ran at lately, or null when none ran yet. */
  rate: (model: string) => number | null
  /** Seconds before anything starts (batch hours closed until then); 0 when batches may run now. */
  delaySeconds?: number
}

export interface QueueEntry {
  id: string
  /** 1 = runs next. */
  position: number
  reason: QueueReason
  detail: string
  etaSeconds: number | null
  /** False when it waits for an earlier arm of its comparison: it may not start now. */
  runnable: boolean
}

const RANK: Record<BatchPriority, number> = { high: 0, normal: 1, low: 2 }

/** Whether `a` outranks `b` by priority alone (a high job is let in at the running job's next chunk). */
export function outranks(a: BatchPriority, b: BatchPriority): boolean {
  return RANK[a] < RANK[b]
}

/**
 * The order the queued jobs will run in: by priority, then (within a priority) jobs that waited longer than
 * maxWaitMs in order of arrival, then the next arm of the comparison that just ran, then jobs whose model is
 * loaded (no swap), then the rest in order of arrival. The arms of a comparison run one after another in the
 * order they were made: an arm waits while an earlier one still validates or runs. Pure: the projection assumes
 * each job's model stays loaded after it (what the scheduler will see), and ages every job as of `now`.
 */
export function queueOrder(input: QueueInput): QueueEntry[] {
  const queued = input.jobs.filter((j) => j.status === 'in_progress' && j.id !== input.running?.id)
  const unfinished = input.jobs.filter((j) => j.status === 'validating' || j.status === 'in_progress')
  const placed = new Set<string>(input.running ? [input.running.id] : [])
  // The job that ran last counts for its comparison only: whether its model is still loaded, `warm` says.
  let lastModel = input.running?.model ?? null
  let lastComparison = (input.running ?? input.previous)?.comparisonId ?? null
  const warm = (model: string | null): boolean => model !== null && (model === lastModel || input.warm(model))
  const blockerOf = (j: QueueCandidate): QueueCandidate | undefined =>
    j.comparisonId === null ? undefined : unfinished.find((o) => o.comparisonId === j.comparisonId && o.seq < j.seq && !placed.has(o.id))
  const overdue = (j: QueueCandidate): boolean => input.now - j.queuedAt >= input.maxWaitMs

  // Seconds of work ahead; null once one job before has no rate.
  const delay = input.delaySeconds ?? 0
  let ahead: number | null = input.running ? (input.running.etaSeconds === null ? null : delay + input.running.etaSeconds) : delay
  const out: QueueEntry[] = []
  const left = [...queued]
  while (left.length > 0) {
    const runnable = left.filter((j) => blockerOf(j) === undefined)
    if (runnable.length === 0) break
    const continues = (j: QueueCandidate): boolean => j.comparisonId !== null && j.comparisonId === lastComparison
    const key = (j: QueueCandidate): [number, number, number] => [RANK[j.priority], overdue(j) ? 0 : continues(j) ? 1 : warm(j.model) ? 2 : 3, j.seq]
    runnable.sort((a, b) => compare(key(a), key(b)))
    const next = runnable[0]
    out.push({ id: next.id, position: out.length + 1, ...why(next, left, warm, overdue, continues(next), input.maxWaitMs), etaSeconds: ahead === null ? null : Math.round(ahead), runnable: true })
    placed.add(next.id)
    left.splice(left.indexOf(next), 1)
    lastModel = next.model
    lastComparison = next.comparisonId
    const rate = next.model === null ? null : input.rate(next.model)
    ahead = ahead === null || rate === null || rate <= 0 ? null : ahead + next.remaining / rate
  }
  // Arms whose earlier arm still validates (or is not queued): after everything else, in order of arrival.
  for (const j of left.sort((a, b) => a.seq - b.seq)) {
    const blocker = blockerOf(j)
    out.push({
      id: j.id,
      position: out.length + 1,
      reason: 'comparison',
      detail: `waits for ${blocker?.id ?? 'an earlier arm'}, the earlier arm of comparison ${j.comparisonId}: the arms run one after another`,
      etaSeconds: null,
      runnable: false,
    })
  }
  return out
}

/** The rule that put `j` ahead of the jobs still left, as a reason and a sentence. */
function why(
  j: QueueCandidate,
  left: readonly QueueCandidate[],
  warm: (model: string | null) => boolean,
  overdue: (j: QueueCandidate) => boolean,
  continues: boolean,
  maxWaitMs: number,
): { reason: QueueReason; detail: string } {
  const others = left.filter((o) => o !== j)
  if (j.priority === 'high' && others.some((o) => o.priority !== 'high')) return { reason: 'priority', detail: 'high priority: runs before normal and low jobs' }
  if (overdue(j)) {
    return { reason: 'overdue', detail: `waited more than ${Math.round(maxWaitMs / 60_000)} min: runs before jobs whose model is already loaded` }
  }
  if (continues) return { reason: 'comparison', detail: `the next arm of comparison ${j.comparisonId}: its arms run one after another` }
  if (warm(j.model) && others.some((o) => o.seq < j.seq && o.priority === j.priority && !warm(o.model))) {
    return { reason: 'warm', detail: `its model ${j.model} is loaded or asleep in the warm pool: runs before older jobs without a model load` }
  }
  if (j.priority === 'low') return { reason: 'priority', detail: 'low priority: runs after normal and high jobs' }
  return { reason: 'arrival', detail: 'in order of arrival' }
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}
