import crypto from 'node:crypto'
import fs from 'node:fs'
import type { Logger } from 'pino'
import type { Store } from '../store'
import type { FileService } from '../files/file-service'
import type { JoinedRow } from '../store/results-repo'
import type { BatchLifecycle } from './batch-lifecycle'
import type { BatchObject } from '../contract/batches'

export type FinalOutcome = 'completed' | 'cancelled' | 'expired'

export interface FinalizeDeps {
  store: Store
  files: FileService
  lifecycle: BatchLifecycle
  log: Logger
}

const NEVER_RAN: Record<Exclude<FinalOutcome, 'completed'>, { code: string; message: string }> = {
  cancelled: { code: 'batch_cancelled', message: 'The batch was cancelled before this request ran.' },
  expired: { code: 'batch_expired', message: 'The batch expired before this request ran.' },
}

/** A stable id for an output line, so finalizing twice writes the same file. */
function lineId(batchId: string, line: number): string {
  return `batch_req_${crypto.createHash('sha256').update(`${batchId}:${line}`).digest('hex').slice(0, 32)}`
}

/** A JSON value as one line of text: the engine's body as it came when it is one line of JSON, else re-encoded. */
function oneLineJson(text: string | null): string {
  if (text === null || text === '') return 'null'
  if (!text.includes('\n')) {
    const first = text.trimStart()[0]
    if (first === '{' || first === '[') return text
  }
  try {
    return JSON.stringify(JSON.parse(text))
  } catch {
    return JSON.stringify({ error: { message: text.slice(0, 10_000), type: 'engine_error', param: null, code: null } })
  }
}

/** The line of the output or error file for one request, or null for the output when it has none. */
export function outputLine(batchId: string, row: JoinedRow, outcome: FinalOutcome): { file: 'output' | 'error'; text: string } {
  const head = `{"id":${JSON.stringify(lineId(batchId, row.line))},"custom_id":${JSON.stringify(row.custom_id)},`
  if (row.state === 'succeeded') {
    return {
      file: 'output',
      text: `${head}"response":{"status_code":${row.status_code ?? 200},"request_id":${JSON.stringify(row.request_id)},"body":${oneLineJson(row.body)}},"error":null}`,
    }
  }
  if (row.state === 'failed' && row.status_code !== null) {
    // The engine answered with an HTTP error: its status and body, and no top-level error.
    let body = oneLineJson(row.body)
    if (!body.startsWith('{"error"') && !/^\{\s*"error"/.test(body)) {
      body = JSON.stringify({ error: { message: row.error_message ?? body, type: 'engine_error', param: null, code: null } })
    }
    return {
      file: 'error',
      text: `${head}"response":{"status_code":${row.status_code},"request_id":${JSON.stringify(row.request_id)},"body":${body}},"error":null}`,
    }
  }
  if (row.state === 'failed') {
    const error = { code: row.error_code ?? 'request_failed', message: row.error_message ?? 'The request failed.' }
    return { file: 'error', text: `${head}"response":null,"error":${JSON.stringify(error)}}` }
  }
  // Marked as never run by an earlier finalize of the same batch, or still pending now.
  const neverRan = row.state === 'cancelled' || row.state === 'expired' ? row.state : outcome
  if (neverRan === 'completed') throw new Error(`request on line ${row.line} has not run; the batch cannot complete`)
  return { file: 'error', text: `${head}"response":null,"error":${JSON.stringify(NEVER_RAN[neverRan])}}` }
}

/** Writes lines to a file with backpressure; resolves with the count once the file is closed. */
class LineWriter {
  private readonly stream: fs.WriteStream
  count = 0

  constructor(readonly path: string) {
    this.stream = fs.createWriteStream(path, { flags: 'wx' })
  }

  async write(text: string): Promise<void> {
    this.count += 1
    if (!this.stream.write(`${text}\n`)) await new Promise<void>((resolve) => this.stream.once('drain', resolve))
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.once('error', reject)
      this.stream.end(() => resolve())
    })
  }
}

/**
 * Ends a batch: streams the output and error files in input order (every request exactly once, so no
 * custom_id twice), registers them as `batch_output` files and moves the batch to its final status with
 * request_counts equal to the files' line counts, in one transaction. Safe to run again after a crash.
 */
export async function finalizeBatch(deps: FinalizeDeps, batchId: string, outcome: FinalOutcome): Promise<BatchObject> {
  const { store, files, lifecycle } = deps
  let row = store.batches.get(batchId)
  if (!row) throw new Error(`batch ${batchId} does not exist`)
  if (outcome === 'completed' && row.status === 'in_progress') {
    lifecycle.transition(batchId, 'finalizing', { status_detail: 'writing the output files' })
    row = store.batches.get(batchId)!
  }
  const seq = store.batches.seqOf(batchId)
  const output = new LineWriter(files.tempPath())
  const errors = new LineWriter(files.tempPath())
  try {
    for (const joined of store.results.joined(seq)) {
      const line = outputLine(batchId, joined, outcome)
      await (line.file === 'output' ? output : errors).write(line.text)
    }
  } finally {
    await Promise.all([output.close(), errors.close()])
  }

  const expiresAfter = row.output_expires_after
  // Files are moved into place inside the transaction but announced only once it has committed; if it rolls
  // back (the batch moved meanwhile), they are removed again and nobody heard of them.
  const registered: string[] = []
  const register = (w: LineWriter, kind: string): string | null => {
    if (w.count === 0) {
      fs.rmSync(w.path, { force: true })
      return null
    }
    const bytes = fs.statSync(w.path).size
    const id = files.commit({ tempPath: w.path, filename: `${batchId}_${kind}.jsonl`, purpose: 'batch_output', bytes, lineCount: w.count, expiresAfter }).id
    registered.push(id)
    return id
  }
  const final = outcome === 'completed' ? 'completed' : outcome
  let batch: BatchObject
  try {
    batch = lifecycle.atomically(store.db, () => {
      if (outcome !== 'completed') store.results.markNeverRan(seq, outcome, NEVER_RAN[outcome].code, NEVER_RAN[outcome].message)
      const outputFileId = register(output, 'output')
      const errorFileId = register(errors, 'error')
      return lifecycle.transition(batchId, final, {
        output_file_id: outputFileId,
        error_file_id: errorFileId,
        completed: output.count,
        failed: errors.count,
        progress: null,
      })
    })
  } catch (err) {
    for (const id of registered) fs.rmSync(files.pathOf(id), { force: true })
    for (const w of [output, errors]) fs.rmSync(w.path, { force: true })
    throw err
  }
  deps.log.info({ batch: batchId, outcome, completed: output.count, failed: errors.count }, `batch ${batchId} ${final}`)
  return batch
}
