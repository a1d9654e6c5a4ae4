import { describe, expect, it } from 'vitest'
import { ApiError } from '../../main/api-error'
import { DiskSpace, insufficientStorage, isNoSpace } from '../../main/store/disk-space'

const MiB = 1024 * 1024

/** A disk whose free space the test sets; records the folder asked about. */
function fakeDisk(freeBytes: number): { statfs: (dir: string) => { bavail: number; bsize: number }; set: (b: number) => void; asked: string[] } {
  let free = freeBytes
  const asked: string[] = []
  return {
    statfs: (dir) => {
      asked.push(dir)
      return { bavail: Math.floor(free / 4096), bsize: 4096 }
    },
    set: (b) => {
      free = b
    },
    asked,
  }
}

function thrown(fn: () => void): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

describe('isNoSpace', () => {
  it('knows ENOSPC, EDQUOT and SQLITE_FULL, also as a cause, and nothing else', () => {
    const code = (c: string): Error => Object.assign(new Error(c), { code: c })
    expect(isNoSpace(code('ENOSPC'))).toBe(true)
    expect(isNoSpace(code('EDQUOT'))).toBe(true)
    expect(isNoSpace(code('SQLITE_FULL'))).toBe(true)
    expect(isNoSpace(new Error('wrapped', { cause: new Error('again', { cause: code('ENOSPC') }) }))).toBe(true)
    for (const other of [code('EACCES'), code('SQLITE_BUSY'), new Error('ENOSPC in the text only'), 'ENOSPC', null, undefined, 28]) {
      expect(isNoSpace(other)).toBe(false)
    }
    // A cause chain that loops ends.
    const a: Error & { cause?: unknown } = new Error('a')
    a.cause = a
    expect(isNoSpace(a)).toBe(false)
  })
})

describe('insufficientStorage', () => {
  it('is a 507 server_error with code insufficient_storage and retry-after 60', () => {
    const e = insufficientStorage('disk full')
    expect(e).toBeInstanceOf(ApiError)
    expect(e.status).toBe(507)
    expect(e.toJSON()).toEqual({ error: { message: 'disk full', type: 'server_error', param: null, code: 'insufficient_storage' } })
    expect(e.headers).toEqual({ 'retry-after': '60' })
  })
})

describe('DiskSpace', () => {
  it('reads free space as available blocks times block size, in its own folder', () => {
    const disk = fakeDisk(100 * MiB)
    const space = new DiskSpace('/data/files', 10 * MiB, disk.statfs)
    expect(space.freeBytes()).toBe(100 * MiB)
    expect(disk.asked).toEqual(['/data/files'])
  })

  it('ensureRoom lets a write through while bytes + floor fit, and refuses it with a 507 naming free space and floor', () => {
    const disk = fakeDisk(100 * MiB)
    const space = new DiskSpace('/data', 10 * MiB, disk.statfs)
    expect(() => space.ensureRoom(90 * MiB, 'the upload')).not.toThrow()
    const err = thrown(() => space.ensureRoom(90 * MiB + 1, 'the upload'))
    expect(err).toBeInstanceOf(ApiError)
    const e = err as ApiError
    expect(e.status).toBe(507)
    expect(e.code).toBe('insufficient_storage')
    expect(e.headers['retry-after']).toBe('60')
    expect(e.message).toContain('the upload (90.0 MB)')
    expect(e.message).toContain('100.0 MB free')
    expect(e.message).toContain('at least 10.0 MB must stay free (VBS_MIN_FREE_MB)')
    // A full state is for writes that failed; a refusal is not one.
    expect(space.full).toBeNull()
  })

  it('ensureRoom reads the disk each time: space freed elsewhere lets the next write through', () => {
    const disk = fakeDisk(5 * MiB)
    const space = new DiskSpace('/data', 10 * MiB, disk.statfs)
    expect(() => space.ensureRoom(0, 'the upload')).toThrow(/5\.0 MB free/)
    disk.set(50 * MiB)
    expect(() => space.ensureRoom(1 * MiB, 'the upload')).not.toThrow()
  })

  it('with a floor of 0, only the bytes themselves must fit', () => {
    const disk = fakeDisk(8 * MiB)
    const space = new DiskSpace('/data', 0, disk.statfs)
    expect(() => space.ensureRoom(8 * MiB, 'the output')).not.toThrow()
    expect(() => space.ensureRoom(8 * MiB + 1, 'the output')).toThrow(/at least 0\.0 MB must stay free/)
  })

  it('remembers a full disk with its first time until refresh() finds room above the floor', () => {
    const disk = fakeDisk(1 * MiB)
    let now = 1_000_000
    const space = new DiskSpace('/data', 10 * MiB, disk.statfs, () => now, 10_000)
    expect(space.full).toBeNull()
    space.markFull('the database could not be written')
    const first = space.full!
    expect(first.reason).toBe('the database could not be written')
    expect(first.since).toBe(1_000_000)

    space.markFull('an output could not be stored')
    expect(space.full).toEqual({ reason: 'an output could not be stored', since: first.since })

    now += 10_000 // the failure is old enough: free space decides
    expect(space.refresh()).toBe(false)
    expect(space.full).not.toBeNull()
    disk.set(10 * MiB) // exactly the floor is not room yet
    expect(space.refresh()).toBe(false)
    expect(space.full).not.toBeNull()
    disk.set(10 * MiB + 4096)
    expect(space.refresh()).toBe(true)
    expect(space.full).toBeNull()
  })

  it('keeps a failed write in mind for recheckMs even when statfs shows room (a quota, a database at its limit)', () => {
    const disk = fakeDisk(100 * MiB)
    let now = 5_000
    const space = new DiskSpace('/data', 10 * MiB, disk.statfs, () => now, 10_000)
    space.markFull('EDQUOT: disk quota exceeded')
    now += 9_999
    expect(space.refresh()).toBe(false)
    expect(space.full?.reason).toBe('EDQUOT: disk quota exceeded')
    space.markFull('EDQUOT again') // the retry failed too: the wait starts over, the first time stays
    now += 9_999
    expect(space.refresh()).toBe(false)
    expect(space.full).toEqual({ reason: 'EDQUOT again', since: 5_000 })
    now += 1
    expect(space.refresh()).toBe(true)
    expect(space.full).toBeNull()
  })

  it('uses fs.statfsSync by default', () => {
    const space = new DiskSpace(process.cwd(), 0)
    expect(space.freeBytes()).toBeGreaterThan(0)
    expect(space.refresh()).toBe(true)
  })
})
