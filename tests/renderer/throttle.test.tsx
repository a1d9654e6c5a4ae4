import { afterEach, describe, expect, test, vi } from 'vitest'
import { throttle } from '../../renderer/src/throttle'

afterEach(() => vi.useRealTimers())

describe('the live refresh throttle', () => {
  test('runs at once, folds the requests of the next second into one run at its end, and can be cancelled', () => {
    vi.useFakeTimers()
    const run = vi.fn()
    const t = throttle(run, 1000)
    t.request()
    expect(run).toHaveBeenCalledTimes(1)
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(40)
      t.request()
    }
    expect(run).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(200)
    expect(run).toHaveBeenCalledTimes(2)
    vi.advanceTimersByTime(5000)
    expect(run).toHaveBeenCalledTimes(2) // nothing asked: nothing run
    t.request()
    expect(run).toHaveBeenCalledTimes(3)
    t.request()
    t.cancel()
    vi.advanceTimersByTime(5000)
    expect(run).toHaveBeenCalledTimes(3)
  })
})
