import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { RequestIndexRow } from './requests-repo'

/**
 * What the writer thread runs: plain JavaScript (a worker cannot load TypeScript when the service runs from
 * source), so it is kept to the least: open its own connection to the database, and write each slice of rows it
 * is sent in one transaction, with the statements the main thread hands it. It answers every slice, with the
 * error's message and code when the write failed (a full disk keeps its SQLITE_FULL).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.sqlite)
const { file, pragmas, insertOne, insertBlock, rowsPerInsert, busyAttempts } = workerData
const db = new Database(file, { fileMustExist: true })
for (const p of pragmas) db.pragma(p)
const one = db.prepare(insertOne)
const block = db.prepare(insertBlock)
parentPort.postMessage({ ready: true })
const write = db.transaction((seq, ids, nums) => {
  const params = []
  let i = 0
  for (; i + rowsPerInsert <= ids.length; i += rowsPerInsert) {
    params.length = 0
    for (let j = i; j < i + rowsPerInsert; j++) params.push(seq, nums[3 * j], ids[j], nums[3 * j + 1], nums[3 * j + 2])
    block.run(params)
  }
  for (; i < ids.length; i++) one.run(seq, nums[3 * i], ids[i], nums[3 * i + 1], nums[3 * i + 2])
})
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close()
    parentPort.close()
    return
  }
  for (let attempt = 1; ; attempt++) {
    try {
      write(m.seq, m.ids, m.nums)
      parentPort.postMessage({ ok: true })
      return
    } catch (err) {
      const code = err && typeof err.code === 'string' ? err.code : null
      // The main connection held the database past busy_timeout: the slice was rolled back whole, so try it again.
      if (code === 'SQLITE_BUSY' && attempt < busyAttempts) continue
      parentPort.postMessage({ ok: false, message: String((err && err.message) || err), code })
      return
    }
  }
})
`

/** Slices sent and not yet written before add() callers are asked to wait (see ready()). */
const MAX_SLICES_IN_FLIGHT = 4
/** Tries of a slice that finds the database busy past busy_timeout each time before the write fails. */
const BUSY_ATTEMPTS = 6

/** How the writer reaches the database: the statements of RequestsRepo and the connection's settings. */
export interface IndexWriterPlan {
  file: string
  pragmas: readonly string[]
  insertOne: string
  insertBlock: string
  rowsPerInsert: number
}

/**
 * Writes a batch's request index on a thread of its own while the main thread goes on reading and checking the
 * file: on two cores the 200,000 rows of a large batch cost next to nothing on top of the validation. Slices are
 * written in the order they are added, each in its own transaction on the writer's own connection (WAL lets the
 * main thread read meanwhile; its own writes wait on busy_timeout for at most one slice). The caller must flush()
 * before it relies on the rows, and close() in any case.
 */
export class IndexWriter {
  private readonly worker: Worker
  private inFlight = 0
  private failure: Error | null = null
  private waiters: (() => void)[] = []
  private closed = false
  private readonly exited: Promise<void>
  private isReady = false

  constructor(
    plan: IndexWriterPlan,
    private readonly seq: number,
  ) {
    const sqlite = createRequire(__filename).resolve('better-sqlite3')
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sqlite, busyAttempts: BUSY_ATTEMPTS, ...plan } })
    this.worker.on('message', (m: { ready?: true; ok: boolean; message?: string; code?: string | null }) => {
      if (m.ready) {
        this.isReady = true
        this.wake()
        return
      }
      this.inFlight -= 1
      if (!m.ok && !this.failure) this.failure = Object.assign(new Error(m.message), m.code ? { code: m.code } : {})
      this.wake()
    })
    this.worker.on('error', (err) => {
      this.failure ??= err
      this.wake()
    })
    this.exited = new Promise<void>((resolve) => {
      this.worker.on('exit', (code) => {
        if (!this.closed) this.failure ??= new Error(`the index writer thread ended (exit code ${code})`)
        this.inFlight = 0
        this.wake()
        resolve()
      })
    })
  }

  /** Resolves once the thread has its connection and statements; rejects when it could not start. */
  started(): Promise<void> {
    return this.until(() => this.isReady)
  }

  /** Sends one slice of rows to be written. */
  add(rows: readonly RequestIndexRow[]): void {
    if (this.failure) throw this.failure
    const ids = new Array<string>(rows.length)
    const nums = new Float64Array(rows.length * 3)
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]
      ids[i] = r.custom_id
      nums[3 * i] = r.line
      nums[3 * i + 1] = r.offset
      nums[3 * i + 2] = r.length
    }
    this.inFlight += 1
    this.worker.postMessage({ seq: this.seq, ids, nums }, [nums.buffer])
  }

  /** Resolves once few enough slices wait to be written (at once, mostly); rejects once a write failed. */
  ready(): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure)
    if (this.inFlight < MAX_SLICES_IN_FLIGHT) return undefined
    return this.until(() => this.inFlight < MAX_SLICES_IN_FLIGHT)
  }

  /** Resolves once every slice added is written and committed; rejects with the first write that failed. */
  flush(): Promise<void> {
    return this.until(() => this.inFlight === 0)
  }

  /** Ends the thread (after the writes under way); safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return
    await this.until(() => this.inFlight === 0).catch(() => undefined)
    this.closed = true
    this.worker.postMessage('close')
    await this.exited
  }

  private until(done: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.failure) reject(this.failure)
        else if (done()) resolve()
        else this.waiters.push(check)
      }
      check()
    })
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}
