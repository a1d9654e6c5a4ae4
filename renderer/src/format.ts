/** How the dashboard writes numbers, sizes, temperatures, times and durations (the reader's locale, via Intl). */

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 })
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 })
const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 0 })
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

/** 12340 -> "12,340" */
export function formatCount(n: number): string {
  return integer.format(n)
}

/** A rate: one decimal below 100 ("3.4"), none above ("1,250"). */
export function formatRate(n: number): string {
  return n < 100 ? oneDecimal.format(n) : integer.format(n)
}

/** 0.4567 -> "46%" */
export function formatPercent(fraction: number): string {
  return percent.format(fraction)
}

/** "64 °C", or "–" when the card does not report it. */
export function formatCelsius(c: number | null | undefined): string {
  return c === null || c === undefined ? '–' : `${Math.round(c)} °C`
}

/** Bytes as "812 B", "4.2 KB", "98.6 MB", "1.2 GB" (powers of 1000, as file managers show them). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit += 1
  }
  return `${unit === 0 ? integer.format(value) : oneDecimal.format(value)} ${units[unit]}`
}

/** MiB as "812 MiB" or "15.6 GiB". */
export function formatMiB(mib: number): string {
  return mib >= 1024 ? `${oneDecimal.format(mib / 1024)} GiB` : `${integer.format(mib)} MiB`
}

/** Seconds as "45 s", "3 min 20 s", "2 h 5 min", "3 d 4 h" (two units at most). */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds))
  if (s < 60) return `${s} s`
  const units: [number, string][] = [
    [86_400, 'd'],
    [3_600, 'h'],
    [60, 'min'],
    [1, 's'],
  ]
  const parts: string[] = []
  let rest = s
  for (const [size, name] of units) {
    if (parts.length === 2) break
    const n = Math.floor(rest / size)
    rest -= n * size
    if (n > 0) parts.push(`${n} ${name}`)
    else if (parts.length > 0) break
  }
  return parts.join(' ')
}

/** Epoch seconds as a local date and time. */
export function formatEpochSeconds(s: number): string {
  return dateTime.format(new Date(s * 1000))
}

/** "1 line", "3 lines" */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`
}
