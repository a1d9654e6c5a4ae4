import { badRequest, notFound } from '../api-error'
import { echo } from '../api-params'
import type { BatchService } from '../batch/batch-service'
import { readAnswer } from '../batch/engine-answer'
import type { Scheduler } from '../batch/scheduler'
import type { ModelRegistry } from '../config/models'
import type { ArmAnswer, Comparison, ComparisonArm, ComparisonRow, ComparisonRowPage, Vote } from '../contract/comparisons'
import { VOTE_OUTCOMES } from '../contract/comparisons'
import type { Store } from '../store'
import type { ArmRequest, ArmRow, ComparisonRow as StoredComparison } from '../store/comparisons-repo'
import type { FileService } from '../files/file-service'
import { progressOfRow } from '../store/batch-row'
import { resultStateOf } from '../store/results-query'
import { BATCH_ID, COMPARISON_ID, newComparisonId, nowSeconds } from '../store/ids'
import { round4, wilsonInterval } from './stats'

export const MIN_ARMS = 2
export const MAX_ARMS = 4
const MAX_NAME_CHARS = 256
const MAX_NOTE_CHARS = 4000

export interface ComparisonDeps {
  store: Store
  files: FileService
  batches: BatchService
  scheduler: Pick<Scheduler, 'progressOf'>
  registry: () => ModelRegistry
}

/** Comparisons whose figures are kept (the most recently read). */
const MEMO_SIZE = 8

interface Figures {
  /** The batches' result counts the figures were worked out at. */
  key: string
  differing: string[] | null
  pairs: Map<string, { both: number; exact: number; normalized: number }>
  arms: ReturnType<Store['comparisons']['armFigures']>[]
}

/** One arm with the batch behind it. */
interface Arm extends ArmRow {
  seq: number
}

/**
 * A/B comparisons: one input file run on several models (a batch each, queued one after another so each model
 * loads once), or batches that existed; their rows aligned by custom_id; a person's votes; the figures.
 */
export class ComparisonService {
  private readonly memo = new Map<string, Figures>()

  constructor(private readonly d: ComparisonDeps) {}

  /** POST /api/comparisons: `{input_file_id, models, name?, endpoint?}` or `{batch_ids, name?}`. */
  create(body: Record<string, unknown>): Comparison {
    const name = optionalName(body.name)
    const hasFile = body.input_file_id !== undefined
    const hasBatches = body.batch_ids !== undefined
    if (hasFile === hasBatches) {
      throw badRequest("Give either 'input_file_id' with 'models' (run one file on several models) or 'batch_ids' (compare batches that exist).", 'invalid_value', hasFile ? 'batch_ids' : 'input_file_id')
    }
    const id = newComparisonId()
    if (hasBatches) return this.fromBatches(id, name, body.batch_ids)
    return this.fromFile(id, name, body)
  }

  private fromFile(id: string, name: string | null, body: Record<string, unknown>): Comparison {
    const models = armList(body.models, 'models')
    const registry = this.d.registry()
    const resolved = models.map((m) => {
      if (typeof m !== 'string' || m === '') throw badRequest("Invalid 'models': each must be a model id or alias from models.yaml.", 'invalid_value', 'models')
      const entry = registry.resolve(m)
      if (!entry) throw notFound(`The model ${echo(m)} does not exist: it is not in models.yaml.`, 'models')
      return entry.id
    })
    if (new Set(resolved).size !== resolved.length) throw badRequest(`Invalid 'models': ${resolved.join(', ')} names a model twice; compare different models.`, 'invalid_value', 'models')
    const endpoint = body.endpoint ?? '/v1/chat/completions'
    const inputFileId = body.input_file_id
    // All or nothing: every batch fits in the queue, or none is made.
    this.d.batches.checkCapacity(inputFileId, resolved.length)
    const created = resolved.map((model) =>
      this.d.batches.create(
        { input_file_id: inputFileId, endpoint, completion_window: '24h', metadata: { comparison_id: id, model } },
        { model },
      ),
    )
    this.d.store.comparisons.insert(
      { id, name, input_file_id: typeof inputFileId === 'string' ? inputFileId : null, created_at: nowSeconds() },
      created.map((b, i) => ({ batch_id: b.id, model: resolved[i] })),
    )
    return this.get(id)
  }

  private fromBatches(id: string, name: string | null, raw: unknown): Comparison {
    const ids = armList(raw, 'batch_ids')
    const batches = ids.map((b) => {
      if (typeof b !== 'string' || !BATCH_ID.test(b)) throw badRequest(`Invalid 'batch_ids': ${echo(String(b))} is not a batch id.`, 'invalid_value', 'batch_ids')
      return this.d.batches.get(b)
    })
    if (new Set(ids).size !== ids.length) throw badRequest("Invalid 'batch_ids': a batch is named twice.", 'invalid_value', 'batch_ids')
    const models = batches.map((b) => b.model ?? '')
    const twice = models.find((m, i) => models.indexOf(m) !== i)
    if (twice !== undefined) {
      throw badRequest(`Invalid 'batch_ids': two of them ran ${echo(twice)}; a comparison is between different models.`, 'invalid_value', 'batch_ids')
    }
    const seqs = batches.map((b) => this.d.store.batches.seqOf(b.id))
    for (let i = 1; i < seqs.length; i++) {
      if (!this.d.store.comparisons.sharesCustomIds(seqs[0], seqs[i])) {
        throw badRequest(`Batches ${batches[0].id} and ${batches[i].id} share no custom_id: there is nothing to compare.`, 'invalid_value', 'batch_ids')
      }
    }
    this.d.store.comparisons.insert({ id, name, input_file_id: null, created_at: nowSeconds() }, batches.map((b, i) => ({ batch_id: b.id, model: models[i] })))
    return this.get(id)
  }

  list(limit: number, after?: string): { data: Comparison[]; hasMore: boolean } {
    const page = this.d.store.comparisons.list(limit, after)
    if (!page) throw notFound(`No such comparison: ${echo(after ?? '')}`, 'after')
    return { data: page.rows.map((r) => this.view(r)), hasMore: page.hasMore }
  }

  get(id: string): Comparison {
    return this.view(this.stored(id))
  }

  /** GET /api/comparisons/{id}/rows. */
  async rows(id: string, o: { q?: string; differences: boolean; offset: number; limit: number }): Promise<ComparisonRowPage> {
    const c = this.stored(id)
    const arms = this.arms(c)
    const [first] = arms
    let ids: string[]
    let total: number
    if (o.q !== undefined || o.differences) {
      // Words in the prompt or in any model's answer; with differences, only rows where the answers differ.
      let kept: string[]
      if (o.q !== undefined) {
        const matching = new Set<string>()
        for (const arm of arms) for (const cid of this.d.store.resultsQuery.matchingCustomIds(arm.seq, o.q)) matching.add(cid)
        kept = this.d.store.comparisons.inLineOrder(first.seq, [...matching])
        if (o.differences) {
          const differing = new Set(this.differing(c, arms))
          kept = kept.filter((cid) => differing.has(cid))
        }
      } else {
        kept = this.differing(c, arms)
      }
      ids = kept.slice(o.offset, o.offset + o.limit)
      total = kept.length
    } else {
      ;({ ids, total } = this.d.store.comparisons.customIds(first.seq, o.offset, o.limit))
    }
    const perArm = arms.map((a) => this.d.store.comparisons.requestsFor(a.seq, ids))
    const votes = this.d.store.comparisons.votesFor(c.seq, ids)
    // The prompts: the first batch's lines, read through one handle for the page.
    const firstBatch = this.d.store.batches.get(first.batch_id)
    const lines = firstBatch ? await this.d.files.readRanges(firstBatch.input_file_id, ids.map((cid) => perArm[0].get(cid)!)) : null
    const data: ComparisonRow[] = ids.map((cid, k) => {
      const mine = perArm[0].get(cid)!
      const answers: Record<string, ArmAnswer | null> = {}
      arms.forEach((a, i) => {
        const r = perArm[i].get(cid)
        answers[a.model] = r ? armAnswer(r) : null
      })
      const hashes = arms.map((_, i) => perArm[i].get(cid)?.normalized_hash ?? null)
      const vote = votes.get(cid)
      return {
        custom_id: cid,
        line: mine.line,
        prompt: lines ? promptOf(lines[k]) : null,
        answers,
        differs: hashes.every((h) => h !== null) && new Set(hashes).size > 1,
        vote: vote ? { custom_id: cid, winner: vote.winner, note: vote.note, updated_at: vote.updated_at } : null,
      }
    })
    return { object: 'list', data, total, has_more: o.offset + data.length < total }
  }

  /** PUT /api/comparisons/{id}/votes/{custom_id}: `{winner, note?}`. */
  vote(id: string, customId: string, body: Record<string, unknown>): Vote {
    const c = this.stored(id)
    const arms = this.arms(c)
    const choices = [...arms.map((a) => a.model), ...VOTE_OUTCOMES]
    const winner = body.winner
    if (typeof winner !== 'string' || !choices.includes(winner)) {
      throw badRequest(`Invalid 'winner': ${winner === undefined ? 'missing' : echo(String(winner))}. Expected one of ${choices.join(', ')}.`, 'invalid_value', 'winner')
    }
    const note = body.note === undefined || body.note === null ? null : body.note
    if (note !== null && (typeof note !== 'string' || note.length > MAX_NOTE_CHARS)) {
      throw badRequest(`Invalid 'note': expected text of at most ${MAX_NOTE_CHARS} characters.`, 'invalid_value', 'note')
    }
    if (this.d.store.comparisons.requestsFor(arms[0].seq, [customId]).size === 0) {
      throw notFound(`Comparison ${c.id} has no row with custom_id ${echo(customId)}.`, 'custom_id')
    }
    const now = nowSeconds()
    this.d.store.comparisons.vote(c.seq, customId, winner, note || null, now)
    return { custom_id: customId, winner, note: note || null, updated_at: now }
  }

  /** Every aligned row with its answers' text and its vote, in the first batch's order (for the exports). */
  async *allRows(id: string): AsyncGenerator<ComparisonRow> {
    const PAGE = 500
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.rows(id, { differences: false, offset, limit: PAGE })
      yield* page.data
      if (!page.has_more) return
    }
  }

  private stored(id: string): StoredComparison {
    const c = COMPARISON_ID.test(id) ? this.d.store.comparisons.get(id) : undefined
    if (!c) throw notFound(`No such comparison: ${echo(id)}`, 'id')
    return c
  }

  private arms(c: StoredComparison): Arm[] {
    return this.d.store.comparisons.arms(c.seq).map((a) => ({ ...a, seq: this.d.store.batches.seqOf(a.batch_id) }))
  }

  /**
   * What is costly to work out over 200,000 rows (the rows that differ, the agreement of each pair), kept until
   * one of the batches commits more results: a finished comparison is paged and voted on without recounting.
   */
  private figures(c: StoredComparison, arms: Arm[]): Figures {
    const key = arms.map((a) => {
      const b = this.d.store.batches.get(a.batch_id)
      return `${a.batch_id}:${b?.completed ?? 0}:${b?.failed ?? 0}`
    }).join(',')
    const kept = this.memo.get(c.id)
    if (kept && kept.key === key) return kept
    const pairs = new Map<string, { both: number; exact: number; normalized: number }>()
    for (let i = 0; i < arms.length; i++) {
      for (let j = i + 1; j < arms.length; j++) pairs.set(`${i}:${j}`, this.d.store.comparisons.agreement(arms[i].seq, arms[j].seq))
    }
    const figures: Figures = { key, differing: null, pairs, arms: arms.map((a) => this.d.store.comparisons.armFigures(a.seq)) }
    this.memo.delete(c.id)
    this.memo.set(c.id, figures)
    if (this.memo.size > MEMO_SIZE) this.memo.delete(this.memo.keys().next().value!)
    return figures
  }

  private differing(c: StoredComparison, arms: Arm[]): string[] {
    const f = this.figures(c, arms)
    f.differing ??= this.d.store.comparisons.differing(arms[0].seq, arms.slice(1).map((a) => a.seq))
    return f.differing
  }

  private view(c: StoredComparison): Comparison {
    const arms = this.arms(c)
    const counts = this.d.store.comparisons.voteCountsBy(c.seq)
    const totalVotes = [...counts.values()].reduce((s, n) => s + n, 0)
    const { pairs, arms: armFigures } = this.figures(c, arms)
    const agreementOf = (i: number, j: number): { both: number; exact: number; normalized: number } => pairs.get(`${Math.min(i, j)}:${Math.max(i, j)}`)!
    const armViews: ComparisonArm[] = arms.map((a, i) => {
      const batch = this.d.store.batches.get(a.batch_id)!
      const figures = armFigures[i]
      const others = arms.map((_, j) => j).filter((j) => j !== i).map((j) => agreementOf(i, j)).filter((x) => x.both > 0)
      const mean = (f: (x: { both: number; exact: number; normalized: number }) => number): number | null =>
        others.length === 0 ? null : round4(others.reduce((s, x) => s + f(x) / x.both, 0) / others.length)
      const wins = counts.get(a.model) ?? 0
      const wallS = batch.first_started_at !== null && batch.last_finished_at !== null ? (batch.last_finished_at - batch.first_started_at) / 1000 : 0
      return {
        model: a.model,
        batch_id: a.batch_id,
        status: batch.status,
        progress: this.d.scheduler.progressOf(a.batch_id) ?? progressOfRow(batch),
        total: batch.total,
        completed: batch.completed,
        failed: batch.failed,
        mean_latency_ms: figures.meanLatency === null ? null : Math.round(figures.meanLatency),
        p95_latency_ms: figures.p95Latency,
        tokens_per_second: wallS > 0 ? Math.round((figures.outputTokens / wallS) * 10) / 10 : null,
        mean_output_tokens: figures.n > 0 ? Math.round((figures.outputTokens / figures.n) * 10) / 10 : null,
        agreement: { exact: mean((x) => x.exact), normalized: mean((x) => x.normalized) },
        wins,
        win_rate: totalVotes > 0 ? round4(wins / totalVotes) : null,
        win_rate_interval: wilsonInterval(wins, totalVotes),
      }
    })
    return {
      id: c.id,
      object: 'comparison',
      name: c.name,
      input_file_id: c.input_file_id,
      created_at: c.created_at,
      models: arms.map((a) => a.model),
      arms: armViews,
      rows: this.d.store.comparisons.customIds(arms[0].seq, 0, 0).total,
      votes: { total: totalVotes, tie: counts.get('tie') ?? 0, both_bad: counts.get('both_bad') ?? 0 },
    }
  }
}

function optionalName(v: unknown): string | null {
  if (v === undefined || v === null || v === '') return null
  if (typeof v !== 'string' || v.length > MAX_NAME_CHARS) throw badRequest(`Invalid 'name': expected text of at most ${MAX_NAME_CHARS} characters.`, 'invalid_value', 'name')
  return v
}

function armList(v: unknown, param: string): unknown[] {
  if (!Array.isArray(v) || v.length < MIN_ARMS || v.length > MAX_ARMS) {
    throw badRequest(`Invalid '${param}': expected a list of ${MIN_ARMS} to ${MAX_ARMS}.`, 'invalid_value', param)
  }
  return v
}

/** One arm's answer in a row: the text of a succeeded answer, the error's message, nothing while pending. */
function armAnswer(r: ArmRequest): ArmAnswer {
  const state = resultStateOf(r.state)
  const latency = r.started_at !== null && r.finished_at !== null ? Math.max(0, r.finished_at - r.started_at) : null
  let text: string | null = null
  if (state === 'succeeded') text = readAnswer(r.body).text
  else if (state === 'failed') text = r.error_message ?? r.preview ?? `never ran: the batch was ${r.state}`
  return { state, text, latency_ms: latency, output_tokens: r.output_tokens }
}

/** The prompt of a request line: its messages, prompt or input; null when the line is not JSON. */
function promptOf(line: Buffer): unknown {
  try {
    const body = (JSON.parse(line.toString('utf8')) as { body?: Record<string, unknown> }).body ?? {}
    return body.messages ?? body.prompt ?? body.input ?? null
  } catch {
    return null
  }
}

