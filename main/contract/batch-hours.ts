/**
 * The daily window batches run in (VBS_BATCH_HOURS, `22:00-07:00`: local time, across midnight when the end is
 * before the start). Pure: the clock is an argument. Shared by the settings (which check it) and the window.
 */

/** A daily window as minutes after local midnight; `end` may be before `start` (it crosses midnight). */
export interface BatchHours {
  start: number
  end: number
  /** As written, normalised (`22:00-07:00`). */
  text: string
}

export class BatchHoursError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BatchHoursError'
  }
}

const WINDOW = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/

/** Parses `HH:MM-HH:MM`; '' (or blanks) is null: batches run at any hour. Throws BatchHoursError saying what is wrong. */
export function parseBatchHours(text: string): BatchHours | null {
  if (text.trim() === '') return null
  const m = WINDOW.exec(text)
  if (!m) throw new BatchHoursError(`must be a daily window like "22:00-07:00" (start-end, 24-hour local time), or empty for any hour; got ${JSON.stringify(text)}`)
  const [h1, m1, h2, m2] = m.slice(1).map(Number)
  for (const [h, min] of [[h1, m1], [h2, m2]]) {
    if (h > 23 || min > 59) throw new BatchHoursError(`has a time that does not exist: ${JSON.stringify(text)} (hours 00-23, minutes 00-59)`)
  }
  const start = h1 * 60 + m1
  const end = h2 * 60 + m2
  if (start === end) throw new BatchHoursError(`starts and ends at the same time (${JSON.stringify(text)}); leave it empty for batches at any hour`)
  return { start, end, text: `${clockText(start)}-${clockText(end)}` }
}

/** Whether `at` (epoch ms) falls inside the window, in local time. */
export function insideHours(hours: BatchHours, at: number): boolean {
  const d = new Date(at)
  const minute = d.getHours() * 60 + d.getMinutes()
  return hours.start < hours.end ? minute >= hours.start && minute < hours.end : minute >= hours.start || minute < hours.end
}

/** The next time (epoch ms, after `at`) the window opens. */
export function nextOpening(hours: BatchHours, at: number): number {
  return nextAt(hours.start, at)
}

/** The next time (epoch ms, after `at`) the window closes. */
export function nextClosing(hours: BatchHours, at: number): number {
  return nextAt(hours.end, at)
}

/** The first local `minute` of a day strictly after `at` (today's or tomorrow's; a DST day keeps the wall clock). */
function nextAt(minute: number, at: number): number {
  const d = new Date(at)
  const today = new Date(d.getFullYear(), d.getMonth(), d.getDate(), Math.floor(minute / 60), minute % 60).getTime()
  return today > at ? today : new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1, Math.floor(minute / 60), minute % 60).getTime()
}

export function clockText(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`
}
