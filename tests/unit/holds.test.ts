import { describe, expect, it } from 'vitest'
import { holdFor, sameHold } from '../../main/batch/hold'
import { dueEnd } from '../../main/batch/scheduler'

describe('dueEnd: the one decision for cancel and expiry', () => {
  it('ends a cancelling batch as cancelled, even past its window', () => {
    expect(dueEnd({ status: 'cancelling', expires_at: 100 }, 50)).toBe('cancel')
    expect(dueEnd({ status: 'cancelling', expires_at: 100 }, 500)).toBe('cancel')
  })

  it('expires a running batch once its window has passed, not a second before', () => {
    expect(dueEnd({ status: 'in_progress', expires_at: 100 }, 99.999)).toBeNull()
    expect(dueEnd({ status: 'in_progress', expires_at: 100 }, 100)).toBe('expire')
  })

  it('leaves every other status alone: validation, finalizing and ended batches end by their own path', () => {
    for (const status of ['validating', 'finalizing', 'completed', 'failed', 'expired', 'cancelled'] as const) {
      expect(dueEnd({ status, expires_at: 100 }, 500)).toBeNull()
    }
  })
})

describe('holds', () => {
  it('keeps since while the kind stays (a download whose percentage moves), and restarts it for a new kind', () => {
    const first = holdFor({ kind: 'engine_loading', detail: 'waiting for engine: downloading m (10%)' }, null, 1000)
    expect(first).toEqual({ kind: 'engine_loading', detail: 'waiting for engine: downloading m (10%)', since: 1000 })
    const later = holdFor({ kind: 'engine_loading', detail: 'waiting for engine: downloading m (60%)' }, first, 5000)
    expect(later).toEqual({ kind: 'engine_loading', detail: 'waiting for engine: downloading m (60%)', since: 1000 })
    expect(holdFor({ kind: 'thermal', detail: 'paused: GPU 86 °C' }, later, 9000).since).toBe(9000)
  })

  it('sameHold compares kind and detail, not since', () => {
    const h = { kind: 'paused', detail: 'paused: paused by the user', since: 1 } as const
    expect(sameHold(h, { kind: 'paused', detail: 'paused: paused by the user' })).toBe(true)
    expect(sameHold(h, { kind: 'paused', detail: 'paused: for the night' })).toBe(false)
    expect(sameHold(h, null)).toBe(false)
    expect(sameHold(null, null)).toBe(true)
  })
})
