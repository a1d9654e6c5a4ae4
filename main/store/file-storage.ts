import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { ApiError, notFound } from '../api-error'
import type { ServiceEvents } from '../events'
import type { Store } from '.'
import type { FileRow } from './files-repo'
import { FILE_ID, newFileId, nowSeconds } from './ids'

export interface NewFile {
  /** A file written under tempDir(), moved into place by commit(). */
  tempPath: string
  filename: string
  purpose: string
  bytes: number
  lineCount: number
  /** Seconds after creation when the file expires, or null to keep it. */
  expiresAfter: number | null
}

/**
 * The files of the Files API: bytes in `<data>/files/<id>`, metadata in the files table. A file appears
 * only once whole: uploads are written to `<data>/files/.tmp` and renamed after every check has passed.
 */
export class FileStorage {
  readonly dir: string
  private readonly tmpDir: string

  constructor(
    dataDir: string,
    private readonly store: Store,
    private readonly events: ServiceEvents,
    private readonly log: Logger,
  ) {
    this.dir = path.join(dataDir, 'files')
    this.tmpDir = path.join(this.dir, '.tmp')
    fs.mkdirSync(this.tmpDir, { recursive: true })
  }

  /** A fresh path for an upload in progress. */
  tempPath(): string {
    return path.join(this.tmpDir, `${crypto.randomBytes(12).toString('hex')}.part`)
  }

  /** Where a file's bytes are; only ever called with an id that passed the id pattern. */
  pathOf(id: string): string {
    if (!FILE_ID.test(id)) throw new Error(`refusing to build a path from the id ${JSON.stringify(id)}`)
    return path.join(this.dir, id)
  }

  commit(file: NewFile): FileRow {
    const createdAt = nowSeconds()
    const row: FileRow = {
      id: newFileId(),
      filename: file.filename,
      purpose: file.purpose,
      bytes: file.bytes,
      line_count: file.lineCount,
      created_at: createdAt,
      expires_at: file.expiresAfter === null ? null : createdAt + file.expiresAfter,
    }
    const target = this.pathOf(row.id)
    fs.renameSync(file.tempPath, target)
    try {
      this.store.files.insert(row)
    } catch (err) {
      fs.rmSync(target, { force: true })
      throw err
    }
    this.log.info({ file: row.id, bytes: row.bytes, purpose: row.purpose }, `file ${row.id} stored`)
    this.events.emit('file.created', { id: row.id, purpose: row.purpose, bytes: row.bytes })
    return row
  }

  /** The row of a file, or the OpenAI 404 naming it. */
  getRow(id: string, param = 'id'): FileRow {
    const row = FILE_ID.test(id) ? this.store.files.get(id) : undefined
    if (!row) throw notFound(`No such File object: ${id}`, param)
    return row
  }

  /** Deletes a file unless a batch that is still running reads it. */
  delete(id: string): void {
    const row = this.getRow(id)
    const user = this.store.batches.activeUsingFile(row.id)
    if (user) {
      throw new ApiError(
        409,
        `File ${row.id} is the input of batch ${user.id}, which is ${user.status.replace('_', ' ')}; ` +
          'cancel the batch or wait for it to end before deleting the file.',
        { code: 'file_in_use', param: 'id', headers: { 'x-should-retry': 'false' } },
      )
    }
    this.store.files.delete(row.id)
    fs.rmSync(this.pathOf(row.id), { force: true })
    this.log.info({ file: row.id }, `file ${row.id} deleted`)
    this.events.emit('file.deleted', { id: row.id })
  }

  /** Clears what a crash can leave: half-written uploads and bytes whose row was never committed. */
  sweepOnStart(): void {
    for (const name of fs.readdirSync(this.tmpDir)) fs.rmSync(path.join(this.tmpDir, name), { force: true })
    const known = this.store.files.allIds()
    for (const name of fs.readdirSync(this.dir)) {
      if (FILE_ID.test(name) && !known.has(name)) {
        this.log.warn({ file: name }, `removing ${name}: its upload never completed`)
        fs.rmSync(path.join(this.dir, name), { force: true })
      }
    }
  }

  /** Deletes files whose expires_at has passed, except inputs of batches still running. */
  sweepExpired(now = nowSeconds()): string[] {
    const removed: string[] = []
    for (const id of this.store.files.expiredIds(now)) {
      if (this.store.batches.activeUsingFile(id)) continue
      this.store.files.delete(id)
      fs.rmSync(this.pathOf(id), { force: true })
      this.events.emit('file.deleted', { id })
      removed.push(id)
    }
    if (removed.length > 0) this.log.info({ files: removed }, `${removed.length} expired files deleted`)
    return removed
  }
}
