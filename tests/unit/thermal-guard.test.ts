import { describe, expect, it } from 'vitest'
import { ThermalGuard } from '../../main/gpu/thermal-guard'

const REASON_86 = 'paused: GPU 86 °C (pauses at 83 °C, resumes at 75 °C)'

describe('thermal guard', () => {
  it('pauses at or above 83 °C, stays paused while cooling to 80 °C, and resumes at or below 75 °C', () => {
    const guard = new ThermalGuard()
    expect(guard.update({ temperatureC: 70, at: 1 })).toEqual({ paused: false, changed: false, reason: null })
    expect(guard.update({ temperatureC: 82.9, at: 2 })).toEqual({ paused: false, changed: false, reason: null })
    expect(guard.update({ temperatureC: 83, at: 3 })).toEqual({
      paused: true,
      changed: true,
      reason: 'paused: GPU 83 °C (pauses at 83 °C, resumes at 75 °C)',
    })
    expect(guard.update({ temperatureC: 86, at: 4 })).toEqual({ paused: true, changed: false, reason: REASON_86 })
    expect(guard.paused).toBe(true)
    expect(guard.reason).toBe(REASON_86)
    // Below the pause threshold but above the resume one: still paused (hysteresis).
    expect(guard.update({ temperatureC: 80, at: 5 })).toEqual({
      paused: true,
      changed: false,
      reason: 'paused: GPU 80 °C (pauses at 83 °C, resumes at 75 °C)',
    })
    expect(guard.update({ temperatureC: 75.1, at: 6 }).paused).toBe(true)
    expect(guard.update({ temperatureC: 75, at: 7 })).toEqual({ paused: false, changed: true, reason: null })
    expect(guard.paused).toBe(false)
    expect(guard.reason).toBeNull()
    // Warming up again below the pause threshold does not pause.
    expect(guard.update({ temperatureC: 80, at: 8 })).toEqual({ paused: false, changed: false, reason: null })
    expect(guard.update({ temperatureC: 90, at: 9 })).toMatchObject({ paused: true, changed: true })
    expect(guard.update({ temperatureC: 60, at: 10 })).toEqual({ paused: false, changed: true, reason: null })
  })

  it('takes other thresholds', () => {
    const guard = new ThermalGuard({ pauseC: 70, resumeC: 60 })
    expect(guard.update({ temperatureC: 69, at: 1 }).paused).toBe(false)
    expect(guard.update({ temperatureC: 70, at: 2 })).toEqual({
      paused: true,
      changed: true,
      reason: 'paused: GPU 70 °C (pauses at 70 °C, resumes at 60 °C)',
    })
    expect(guard.update({ temperatureC: 61, at: 3 }).paused).toBe(true)
    expect(guard.update({ temperatureC: 60, at: 4 }).changed).toBe(true)
  })

  it('never pauses on a missing reading', () => {
    const guard = new ThermalGuard()
    for (let at = 0; at <= 120_000; at += 10_000) {
      expect(guard.update({ temperatureC: null, at })).toEqual({ paused: false, changed: false, reason: null })
    }
    expect(guard.update({ temperatureC: Number.NaN, at: 130_000 })).toEqual({ paused: false, changed: false, reason: null })
  })

  it('stays paused while readings are missing, and says so once they have been missing longer than staleMs', () => {
    const guard = new ThermalGuard({ staleMs: 30_000 })
    guard.update({ temperatureC: 86, at: 1_000 })
    // A short gap (nvidia-smi restarting): the last reading's reason stands.
    expect(guard.update({ temperatureC: null, at: 20_000 })).toEqual({ paused: true, changed: false, reason: REASON_86 })
    expect(guard.update({ temperatureC: null, at: 31_000 })).toEqual({ paused: true, changed: false, reason: REASON_86 })
    const stale = guard.update({ temperatureC: null, at: 46_000 })
    expect(stale).toEqual({
      paused: true,
      changed: false,
      reason: 'paused: no GPU temperature reading for 45 s (last 86 °C); resumes once a reading is at or below 75 °C',
    })
    // However long: it does not resume blind.
    expect(guard.update({ temperatureC: null, at: 3_600_000 }).paused).toBe(true)
    expect(guard.reason).toContain('no GPU temperature reading for 3599 s')
    // A reading that is not cool enough keeps it paused with a fresh reason; a cool one resumes.
    expect(guard.update({ temperatureC: 78, at: 3_601_000 })).toEqual({
      paused: true,
      changed: false,
      reason: 'paused: GPU 78 °C (pauses at 83 °C, resumes at 75 °C)',
    })
    expect(guard.update({ temperatureC: 74, at: 3_602_000 })).toEqual({ paused: false, changed: true, reason: null })
  })

  it('ignores a reading older than the last one', () => {
    const guard = new ThermalGuard()
    guard.update({ temperatureC: 60, at: 2_000 })
    expect(guard.update({ temperatureC: 95, at: 1_000 })).toEqual({ paused: false, changed: false, reason: null })
    expect(guard.update({ temperatureC: 95, at: 2_000 })).toMatchObject({ paused: true, changed: true })
  })

  it('refuses thresholds that would make it flap, and nonsense', () => {
    expect(() => new ThermalGuard({ pauseC: 80, resumeC: 80 })).toThrow(/resume temperature \(80 °C\) must be below the pause temperature \(80 °C\)/)
    expect(() => new ThermalGuard({ pauseC: 70, resumeC: 75 })).toThrow(RangeError)
    expect(() => new ThermalGuard({ resumeC: 90 })).toThrow(/below the pause temperature \(83 °C\)/)
    expect(() => new ThermalGuard({ pauseC: Number.NaN })).toThrow(/pauseC must be a finite number/)
    expect(() => new ThermalGuard({ staleMs: -1 })).toThrow(/staleMs/)
    const guard = new ThermalGuard({ pauseC: 90, resumeC: 89 })
    expect([guard.pauseC, guard.resumeC, guard.staleMs]).toEqual([90, 89, 30_000])
  })
})
