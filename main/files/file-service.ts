import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { ApiError, badRequest, notFound } from '../api-error'
import type { ServiceEvents } from '../events'
import type { Store } from '../store'
import { DiskSpace, insufficientStorage, isNoSpace, megabytes, type StatFs } from '../store/disk-space'
import type { FileRow } from '../store/files-repo'
import { FILE_ID, newFileId, nowSeconds } from '../store/ids'
import { echo } from '../api-params'

const MiB = 1024 * 1024

export interface StorageLimits {
  /** Uploads and commits leave at least this many bytes free on the data dir's disk (VBS_MIN_FREE_MB). */
  minFreeBytes: number
  /** Most bytes all stored files may take together; client uploads past it are refused, outputs never (0 = no quota). */
  maxStoredBytes: number
}

/** The settings' defaults, for callers that pass no limits. */
export const DEFAULT_STORAGE_LIMITS: StorageLimits = { minFreeBytes: 512 * MiB, maxStoredBytes: 0 }

/** How much of a multipart body may be other than the file (boundaries, part headers, the purpose field). */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024
/** While an upload streams in, free space is read again each time it has grown by this much. */
const RECHECK_EVERY_BYTES = MiB

/** Watches a client upload as it is written; throwing stops storing it (the rest of the body is read and dropped). */
export interface UploadGuard {
  /** The file has reached `bytes`. */
  grew(bytes: number): void
  /** Writing the temporary file failed: the error to answer with. */
  writeFailed(err: unknown): unknown
}

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
export class FileService {
  readonly dir: string
  /** Free space on the data dir's disk, and whether a write lately failed for lack of it (for the scheduler, /health). */
  readonly disk: DiskSpace
  private readonly tmpDir: string

  constructor(
    dataDir: string,
    private readonly store: Store,
    private readonly events: ServiceEvents,
    private readonly log: Logger,
    readonly limits: StorageLimits = DEFAULT_STORAGE_LIMITS,
    statfs?: StatFs,
  ) {
    this.dir = path.join(dataDir, 'files')
    this.tmpDir = path.join(this.dir, '.tmp')
    fs.mkdirSync(this.tmpDir, { recursive: true })
    this.disk = new DiskSpace(this.dir, limits.minFreeBytes, statfs)
  }

  /** Bytes of all stored files, uploads and outputs alike. */
  storedBytes(): number {
    return this.store.files.totalBytes()
  }

  /**
   * Refuses a client upload before its body is read: 400 `file_too_large` when the declared body cannot hold a
   * file of at most maxFileBytes (the client must change the request, not wait for space), 413 when the file
   * would pass the quota, 507 when the body does not fit above the free-space floor. `declaredBytes` is the
   * body's Content-Length (null when chunked).
   */
  admitUpload(declaredBytes: number | null, maxFileBytes: number): void {
    if (declaredBytes !== null) {
      // The body holds more than the file; only a body past a limit by more than any form around a file is refused.
      const fileBytes = declaredBytes - MULTIPART_OVERHEAD_BYTES
      if (fileBytes > maxFileBytes) {
        throw badRequest(
          `File is too large. The request declares ${declaredBytes.toLocaleString('en-US')} bytes, and a file may have at most ${maxFileBytes.toLocaleString('en-US')} (VBS_MAX_FILE_BYTES).`,
          'file_too_large',
          'file',
        )
      }
      this.ensureQuota(fileBytes)
    }
    // A chunked body has no size to check, but a disk already below the floor refuses it as well.
    this.disk.ensureRoom(declaredBytes ?? 0, 'the upload')
  }

  /** Stops an upload as it streams in once it would pass the quota, or the disk reaches the floor. */
  uploadGuard(): UploadGuard {
    const storedAtStart = this.storedBytes()
    let nextCheck = RECHECK_EVERY_BYTES
    return {
      grew: (bytes) => {
        this.ensureQuota(bytes, storedAtStart)
        if (bytes < nextCheck) return
        nextCheck = bytes + RECHECK_EVERY_BYTES
        const free = this.disk.freeBytes()
        if (free < this.limits.minFreeBytes) {
          throw insufficientStorage(
            `Not enough disk space for the upload: it was stopped after ${megabytes(bytes)}, with ${megabytes(free)} left ` +
              `free on the server's data disk, where at least ${megabytes(this.limits.minFreeBytes)} must stay free (VBS_MIN_FREE_MB). ` +
              'Delete files you no longer need (DELETE /v1/files/{file_id}) or free space on the server, then try again.',
          )
        }
      },
      writeFailed: (err) => {
        if (!isNoSpace(err)) return err
        const reason = `an upload filled the disk: ${(err as Error).message}`
        this.disk.markFull(reason)
        this.log.warn({ err }, reason)
        return insufficientStorage(
          `The server's data disk is full: the upload could not be written and was discarded. ` +
            `Delete files you no longer need (DELETE /v1/files/{file_id}) or free space on the server, then try again.`,
        )
      },
    }
  }

  /** Stores a client upload: like commit(), after checking its real size against the quota. */
  commitUpload(file: NewFile): FileRow {
    try {
      this.ensureQuota(file.bytes)
    } catch (err) {
      fs.rmSync(file.tempPath, { force: true })
      throw err
    }
    return this.commit(file)
  }

  /** 413 when `bytes` more would take the stored files past VBS_MAX_STORED_BYTES. */
  private ensureQuota(bytes: number, stored = this.storedBytes()): void {
    const quota = this.limits.maxStoredBytes
    if (quota === 0 || stored + bytes <= quota) return
    throw new ApiError(
      413,
      `Storing this upload would pass the storage quota of ${quota} bytes (VBS_MAX_STORED_BYTES): ` +
        `stored files already take ${stored} bytes, ${Math.max(0, quota - stored)} are left, and the upload has at least ${Math.max(0, bytes)}. ` +
        'Delete files you no longer need (DELETE /v1/files/{file_id}) or ask for a larger quota.',
      { code: 'storage_quota_exceeded', param: 'file', headers: { 'x-should-retry': 'false' } },
    )
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

  /**
   * Byte ranges of a stored file (the request lines of a batch's input, by the offsets of its index), read
   * through one open handle; null when the file is gone (deleted since the batch was made).
   */
  async readRanges(id: string, ranges: readonly { offset: number; length: number }[]): Promise<Buffer[] | null> {
    let fd: fs.promises.FileHandle
    try {
      fd = await fs.promises.open(this.pathOf(id), 'r')
    } catch {
      return null
    }
    try {
      const out: Buffer[] = []
      for (const r of ranges) {
        const buf = Buffer.alloc(r.length)
        await fd.read(buf, 0, r.length, r.offset)
        out.push(buf)
      }
      return out
    } finally {
      await fd.close()
    }
  }

  /**
   * Moves a finished temporary file into place and registers it. Never refused by the quota (batch outputs must be
   * stored for their job to end), but a full disk or database answers 507, with the temporary file removed.
   */
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
    try {
      fs.renameSync(file.tempPath, target)
      try {
        this.store.files.insert(row)
      } catch (err) {
        fs.rmSync(target, { force: true })
        throw err
      }
    } catch (err) {
      fs.rmSync(file.tempPath, { force: true })
      if (!isNoSpace(err)) throw err
      const reason = `${file.filename} could not be stored: ${(err as Error).message}`
      this.disk.markFull(reason)
      this.log.warn({ err, filename: file.filename, bytes: file.bytes }, reason)
      throw insufficientStorage(
        `The server's data disk is full: ${file.filename} (${megabytes(file.bytes)}) could not be stored and was discarded. ` +
          'Delete files you no longer need (DELETE /v1/files/{file_id}) or free space on the server, then try again.',
      )
    }
    this.log.info({ file: row.id, bytes: row.bytes, purpose: row.purpose }, `file ${row.id} stored`)
    this.events.emit('file.created', { id: row.id, purpose: row.purpose, bytes: row.bytes })
    return row
  }

  /** The row of a file, or the OpenAI 404 naming it. */
  getRow(id: string, param = 'id'): FileRow {
    const row = FILE_ID.test(id) ? this.store.files.get(id) : undefined
    if (!row) throw notFound(`No such File object: ${FILE_ID.test(id) ? id : echo(id)}`, param)
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
