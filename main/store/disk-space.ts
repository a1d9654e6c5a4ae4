import fs from 'node:fs'
import { ApiError } from '../api-error'

/** What statfs(2) tells about the file system holding a folder (fs.statfsSync's shape, numbers only). */
export type StatFs = (dir: string) => { bavail: number; bsize: number }

const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL'])
const MiB = 1024 * 1024
/** How long a client should wait before trying again: freeing space is a human's job, not a retry loop's. */
const RETRY_AFTER_SECONDS = 60

/**
 * Whether an error means the disk (or the user's quota on it) is full: ENOSPC and EDQUOT from the file system,
 * SQLITE_FULL from better-sqlite3, also when wrapped in `cause`.
 */
export function isNoSpace(err: unknown): boolean {
  let e: unknown = err
  // Bounded: a cause chain can loop.
  for (let depth = 0; depth < 8 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && NO_SPACE_CODES.has(code)) return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}

/** The 507 of a write refused or failed for lack of space; the client may try again once space is freed. */
export function insufficientStorage(message: string): ApiError {
  return new ApiError(507, message, {
    type: 'server_error',
    code: 'insufficient_storage',
    headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
  })
}

/** Bytes as MB with one decimal, for messages (MB as in VBS_MIN_FREE_MB: 2^20 bytes). */
export function megabytes(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MB`
}

/** How long a failed write is remembered at least, even when statfs shows room (see DiskSpace). */
export const FULL_RECHECK_MS = 10_000

/**
 * Free space in the data dir and the floor every write must leave (VBS_MIN_FREE_MB): checked before a write,
 * and remembered as "full" once a write failed for lack of space, until a fresh reading finds room again and
 * the last failure is at least FULL_RECHECK_MS old. The wait matters where statfs does not see what is full
 * (a user quota, EDQUOT; a database at its page limit): the job held for it is then tried again every
 * FULL_RECHECK_MS, and /health keeps saying disk_full in between instead of flickering.
 */
export class DiskSpace {
  private fullSince: { reason: string; since: number } | null = null
  private lastFailure = -Infinity

  constructor(
    readonly dir: string,
    readonly minFreeBytes: number,
    private readonly statfs: StatFs = (d) => fs.statfsSync(d),
    private readonly now: () => number = Date.now,
    private readonly recheckMs = FULL_RECHECK_MS,
  ) {}

  /** Bytes available to this process in dir (blocks reserved for root on ext4 are not counted). */
  freeBytes(): number {
    const s = this.statfs(this.dir)
    return s.bavail * s.bsize
  }

  /** Throws ApiError 507 code 'insufficient_storage' (message names free space and the floor, in MB, and VBS_MIN_FREE_MB) when bytes + floor > free. */
  ensureRoom(bytes: number, what: string): void {
    const free = this.freeBytes()
    if (bytes + this.minFreeBytes <= free) return
    throw insufficientStorage(
      `Not enough disk space for ${what}${bytes > 0 ? ` (${megabytes(bytes)})` : ''}: ${megabytes(free)} free on the server's data disk, ` +
        `and at least ${megabytes(this.minFreeBytes)} must stay free (VBS_MIN_FREE_MB). ` +
        'Delete files you no longer need (DELETE /v1/files/{file_id}) or free space on the server, then try again.',
    )
  }

  /** Something failed for lack of space: remember it (reason, since) until refresh() sees room again. */
  markFull(reason: string): void {
    this.lastFailure = this.now()
    this.fullSince = { reason, since: this.fullSince?.since ?? this.lastFailure }
  }

  /**
   * Re-reads free space; clears the full state when free > floor and the last failed write is at least
   * recheckMs old; returns whether writes may be tried again now.
   */
  refresh(): boolean {
    const room = this.freeBytes() > this.minFreeBytes && this.now() - this.lastFailure >= this.recheckMs
    if (room) this.fullSince = null
    return room
  }

  get full(): { reason: string; since: number } | null {
    return this.fullSince
  }
}
