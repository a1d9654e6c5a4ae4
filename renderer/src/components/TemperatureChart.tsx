import { HISTORY_MS, useGpuStore } from '../store/gpu'
import type { GpuSample } from '../types'
import { useNow } from './use-now'

const W = 600
const H = 150
const PAD = { left: 34, right: 8, top: 8, bottom: 18 }
/** Samples further apart than this are a gap in the line (telemetry stopped), not a slope. */
const GAP_MS = 15_000

/** Polyline point lists for the temperature, broken where readings are missing. */
export function temperaturePaths(history: GpuSample[], from: number, to: number, x: (t: number) => number, y: (c: number) => number): string[] {
  const paths: string[] = []
  let current: string[] = []
  let lastAt = -Infinity
  for (const s of history) {
    if (s.at < from || s.at > to) continue
    if (s.temperatureC === null || s.at - lastAt > GAP_MS) {
      if (current.length > 1) paths.push(current.join(' '))
      current = []
    }
    lastAt = s.at
    if (s.temperatureC !== null) current.push(`${x(s.at).toFixed(1)},${y(s.temperatureC).toFixed(1)}`)
  }
  if (current.length > 1) paths.push(current.join(' '))
  else if (current.length === 1) paths.push(`${current[0]} ${current[0]}`)
  return paths
}

/** The last 10 minutes of GPU temperature, with the pause and resume thresholds. Inline SVG, no library. */
export function TemperatureChart(): React.JSX.Element {
  const history = useGpuStore((s) => s.history)
  const pauseC = useGpuStore((s) => s.thermal.pauseC)
  const resumeC = useGpuStore((s) => s.thermal.resumeC)
  const now = useNow(5000)
  const to = Math.max(now, history.at(-1)?.at ?? 0)
  const from = to - HISTORY_MS

  const temps = history.flatMap((s) => (s.temperatureC === null ? [] : [s.temperatureC]))
  // The scale spans the readings and both thresholds with a margin, in steps of 10 °C.
  const lo = Math.max(0, Math.floor(Math.min((resumeC ?? 60) - 10, ...temps) / 10) * 10)
  const hi = Math.ceil(Math.max((pauseC ?? 80) + 5, ...temps) / 10) * 10
  const x = (t: number): number => PAD.left + ((t - from) / HISTORY_MS) * (W - PAD.left - PAD.right)
  const y = (c: number): number => PAD.top + (1 - (c - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom)
  const paths = temperaturePaths(history, from, to, x, y)
  const ticks: number[] = []
  for (let c = lo; c <= hi; c += hi - lo > 50 ? 20 : 10) ticks.push(c)
  const latest = temps.at(-1)

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`GPU temperature over the last 10 minutes${latest !== undefined ? `, now ${Math.round(latest)} °C` : ''}`} data-testid="temperature-chart">
        {ticks.map((c) => (
          <g key={c}>
            <line className="grid-line" x1={PAD.left} x2={W - PAD.right} y1={y(c)} y2={y(c)} />
            <text className="axis" x={PAD.left - 6} y={y(c) + 4} textAnchor="end">
              {c}°
            </text>
          </g>
        ))}
        {[10, 5, 0].map((min) => (
          <text key={min} className="axis" x={x(to - min * 60_000)} y={H - 4} textAnchor={min === 10 ? 'start' : min === 0 ? 'end' : 'middle'}>
            {min === 0 ? 'now' : `−${min} min`}
          </text>
        ))}
        {pauseC !== null && (
          <g data-testid="pause-threshold">
            <line className="threshold pause" x1={PAD.left} x2={W - PAD.right} y1={y(pauseC)} y2={y(pauseC)} />
            <text className="threshold-label pause" x={PAD.left + 4} y={y(pauseC) - 4}>
              pause {pauseC} °C
            </text>
          </g>
        )}
        {resumeC !== null && (
          <g data-testid="resume-threshold">
            <line className="threshold resume" x1={PAD.left} x2={W - PAD.right} y1={y(resumeC)} y2={y(resumeC)} />
            <text className="threshold-label resume" x={PAD.left + 4} y={y(resumeC) + 13}>
              resume {resumeC} °C
            </text>
          </g>
        )}
        {paths.map((points, i) => (
          <polyline key={i} className="temp-line" points={points} />
        ))}
      </svg>
      {paths.length === 0 && <figcaption className="muted small">No temperature readings in the last 10 minutes.</figcaption>}
    </figure>
  )
}
