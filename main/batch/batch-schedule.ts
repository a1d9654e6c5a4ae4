import type { HoldKind, ScheduleState } from '../contract/jobs'
import { clockText, insideHours, nextOpening, parseBatchHours, type BatchHours } from '../contract/batch-hours'

/** "today at 22:00" or "Tue at 22:00": when a held job starts, as its hold says it. */
export function startText(at: number, now: number): string {
  const d = new Date(at)
  const n = new Date(now)
  const sameDay = d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate()
  const hm = clockText(d.getHours() * 60 + d.getMinutes())
  return sameDay ? `today at ${hm}` : `${['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()]} at ${hm}`
}

export interface ScheduleInput {
  hours: BatchHours | null
  whenIdle: boolean
  /** Seconds the desktop has been idle, or null where there is no desktop (headless): idle-only is then ignored. */
  idleSeconds: number | null
  /** Idle for at least this long counts as idle. */
  idleAfterSeconds: number
  /** "Run now anyway": until when (epoch ms; Infinity while it lasts until the desktop is next idle), or null. */
  runNowUntil: number | null
  now: number
}

export type ScheduleVerdict =
  | { open: true; kind: null; detail: null; nextStart: null }
  | { open: false; kind: Extract<HoldKind, 'quiet_hours' | 'not_idle'>; detail: string; nextStart: number | null }

const OPEN: ScheduleVerdict = { open: true, kind: null, detail: null, nextStart: null }

/** Whether batches may run now by the schedule, and if not the hold their jobs show. Pure. */
export function scheduleVerdict(s: ScheduleInput): ScheduleVerdict {
  if (s.runNowUntil !== null && s.now < s.runNowUntil) return OPEN
  if (s.hours && !insideHours(s.hours, s.now)) {
    const next = nextOpening(s.hours, s.now)
    return {
      open: false,
      kind: 'quiet_hours',
      detail: `held: batches run ${s.hours.text} (VBS_BATCH_HOURS); this job starts ${startText(next, s.now)}`,
      nextStart: next,
    }
  }
  if (s.whenIdle && s.idleSeconds !== null && s.idleSeconds < s.idleAfterSeconds) {
    return {
      open: false,
      kind: 'not_idle',
      // No live count of seconds here: the hold is stored when its text changes.
      detail: `held: batches run only while the desktop is idle (VBS_BATCH_WHEN_IDLE); the job starts after ${s.idleAfterSeconds} s without use`,
      nextStart: null,
    }
  }
  return OPEN
}

/**
 * Until when "run now anyway", asked while `closed` holds batches, lasts: until the batch hours next open (the
 * schedule takes over again from there), or, held for a desktop in use, until it is next idle (Infinity, ended
 * by BatchSchedule once the schedule alone would let batches run).
 */
export function runNowUntil(closed: Extract<ScheduleVerdict, { open: false }>): number {
  return closed.kind === 'quiet_hours' && closed.nextStart !== null ? closed.nextStart : Number.POSITIVE_INFINITY
}

export interface BatchScheduleDeps {
  /** The settings, read live: batchHours (already checked), batchWhenIdle, batchIdleSeconds. */
  settings: () => { batchHours: string; batchWhenIdle: boolean; batchIdleSeconds: number }
  /** Epoch ms now (tests inject a clock). */
  clock: () => number
  /** Seconds the desktop has been idle; null without a desktop (headless), where idle-only is ignored. */
  idleSeconds: () => number | null
}

/**
 * The daily window, idle-only and the "run now anyway" override, as the scheduler asks them (before each job and
 * at each chunk boundary) and the API shows them. Holds no timers: each question reads the clock.
 */
export class BatchSchedule {
  private runNowEnd: number | null = null

  constructor(private readonly d: BatchScheduleDeps) {}

  private hours(): BatchHours | null {
    // Checked when the settings were read; a value that no longer parses counts as no window.
    try {
      return parseBatchHours(this.d.settings().batchHours)
    } catch {
      return null
    }
  }

  private input(): ScheduleInput {
    const s = this.d.settings()
    return {
      hours: this.hours(),
      whenIdle: s.batchWhenIdle,
      idleSeconds: s.batchWhenIdle ? this.d.idleSeconds() : null,
      idleAfterSeconds: s.batchIdleSeconds,
      runNowUntil: this.runNowEnd,
      now: this.d.clock(),
    }
  }

  /** Whether batches may run now; ends "run now anyway" once the schedule would have let them run anyway. */
  verdict(): ScheduleVerdict {
    const input = this.input()
    if (this.runNowEnd !== null) {
      const plain = scheduleVerdict({ ...input, runNowUntil: null })
      // Past its end, or (with idle-only and no hours) the desktop is idle now: the schedule takes over again.
      if (input.now >= this.runNowEnd || (plain.open && this.runNowEnd === Number.POSITIVE_INFINITY)) this.runNowEnd = null
    }
    return scheduleVerdict({ ...input, runNowUntil: this.runNowEnd })
  }

  /**
   * "Run now anyway": batches run until the window next opens (or the desktop is next idle). While the schedule
   * lets batches run anyway there is nothing to override, and nothing changes.
   */
  runNow(): void {
    const plain = scheduleVerdict({ ...this.input(), runNowUntil: null })
    this.runNowEnd = plain.open ? null : runNowUntil(plain)
  }

  /** Back to the schedule. */
  cancelRunNow(): void {
    this.runNowEnd = null
  }

  get now(): number {
    return this.d.clock()
  }

  /** The schedule as `GET /api/batches` shows it (the power window is added by the scheduler). */
  state(): Omit<ScheduleState, 'power'> {
    const v = this.verdict()
    const s = this.d.settings()
    const until = this.runNowEnd
    return {
      open: v.open,
      hold: v.open ? null : { kind: v.kind, detail: v.detail },
      batch_hours: this.hours()?.text ?? '',
      when_idle: s.batchWhenIdle,
      next_start: v.nextStart,
      run_now: until !== null,
      run_now_until: until !== null && Number.isFinite(until) ? until : null,
    }
  }
}
