import { formatCelsius, formatCount, formatMiB, formatPercent } from '../format'
import { useGpuStore } from '../store/gpu'
import { selectPowerWindow, useQueueStore } from '../store/queue'
import { ProgressBar } from './ProgressBar'
import { TemperatureChart } from './TemperatureChart'
import { Card } from './Card'

function NoGpu(props: { reason: string | null }): React.JSX.Element {
  const starting = props.reason === 'not started'
  const noGpu = props.reason === null || /no NVIDIA GPU/i.test(props.reason)
  return (
    <div className="callout callout-info" data-testid="gpu-unavailable">
      <strong>{starting ? 'Looking for the GPU…' : noGpu ? 'No NVIDIA GPU found' : 'GPU telemetry is not available'}</strong>
      {props.reason && !starting && <p className="mono wrap">{props.reason}</p>}
      {!starting && (
        <p>
          The API and the batch queue work without it, but there is no temperature reading and so no thermal
          pause. On a GPU workstation, install the NVIDIA driver so that <code>nvidia-smi</code> works for the
          user the service runs as.
        </p>
      )}
    </div>
  )
}

function Temperature(): React.JSX.Element {
  const t = useGpuStore((s) => s.current?.temperatureC ?? null)
  const pauseC = useGpuStore((s) => s.thermal.pauseC)
  const resumeC = useGpuStore((s) => s.thermal.resumeC)
  const hot = t !== null && pauseC !== null && t >= pauseC
  const warm = t !== null && resumeC !== null && t > resumeC
  return (
    <div className="temp-row">
      <span className={`temp${hot ? ' temp-hot' : warm ? ' temp-warm' : ''}`} data-testid="gpu-temperature">
        {formatCelsius(t)}
      </span>
      {pauseC !== null && resumeC !== null && (
        <span className="muted small">
          batches pause at {formatCelsius(pauseC)} and resume at {formatCelsius(resumeC)}
        </span>
      )}
    </div>
  )
}

/** The power cap (VBS_GPU_POWER_LIMIT_W) and the running job's in-flight window under it. */
function PowerCap(): React.JSX.Element | null {
  const power = useQueueStore(selectPowerWindow)
  if (!power || power.cap_w === null) return null
  const narrowed = power.window < power.max_window
  return (
    <p className={`small${narrowed ? ' warn-text' : ' muted'}`} data-testid="gpu-power-cap">
      Power cap {formatCount(power.cap_w)} W
      {power.draw_w !== null ? ` (drawing ${formatCount(power.draw_w)} W)` : ''}:{' '}
      {narrowed
        ? `batch requests in flight narrowed to ${formatCount(power.window)} of ${formatCount(power.max_window)}`
        : `up to ${formatCount(power.max_window)} batch requests in flight`}
    </p>
  )
}

function Vram(): React.JSX.Element | null {
  const used = useGpuStore((s) => s.current?.memoryUsedMiB ?? null)
  const total = useGpuStore((s) => s.current?.memoryTotalMiB ?? s.info?.vramTotalMiB ?? null)
  if (total === null) return null
  const fraction = used === null ? 0 : used / total
  return (
    <div className="meter">
      <div className="meter-label">
        <span>VRAM</span>
        <span>{used === null ? `– of ${formatMiB(total)}` : `${formatMiB(used)} of ${formatMiB(total)} (${formatPercent(fraction)})`}</span>
      </div>
      <ProgressBar value={fraction} label="VRAM used" tone={fraction > 0.95 ? 'danger' : fraction > 0.85 ? 'warn' : undefined} testId="gpu-vram" />
    </div>
  )
}

function Readings(): React.JSX.Element {
  const util = useGpuStore((s) => s.current?.utilizationPct ?? null)
  const power = useGpuStore((s) => s.current?.powerW ?? null)
  const limit = useGpuStore((s) => s.current?.powerLimitW ?? null)
  const fan = useGpuStore((s) => s.current?.fanPct ?? null)
  return (
    <dl className="facts">
      <dt>Utilization</dt>
      <dd data-testid="gpu-utilization">{util === null ? '–' : `${formatCount(util)}%`}</dd>
      <dt>Power</dt>
      <dd>
        {power === null ? '–' : `${formatCount(power)} W`}
        {limit !== null ? ` of ${formatCount(limit)} W` : ''}
      </dd>
      {fan !== null && (
        <>
          <dt>Fan</dt>
          <dd>{formatCount(fan)}%</dd>
        </>
      )}
    </dl>
  )
}

export function GpuSection(): React.JSX.Element {
  const status = useGpuStore((s) => s.status)
  const hasSample = useGpuStore((s) => s.current !== null)
  const name = useGpuStore((s) => s.info?.name ?? null)
  const driver = useGpuStore((s) => s.info?.driverVersion ?? null)
  const loadError = useGpuStore((s) => s.loadError)
  return (
    <Card
      id="gpu"
      title="GPU"
      head={
        <>
          {name && <span className="muted">{name}</span>}
          {driver && <span className="muted small">driver {driver}</span>}
        </>
      }
    >
      {status === null ? (
        loadError ? <p className="callout callout-danger">Could not read the GPU telemetry: {loadError}</p> : <p className="muted">Loading…</p>
      ) : !status.available && !hasSample ? (
        <NoGpu reason={status.reason} />
      ) : (
        <>
          {!status.available && <p className="callout callout-warn small">Telemetry interrupted: {status.reason}</p>}
          <Temperature />
          <TemperatureChart />
          <PowerCap />
          <Vram />
          <Readings />
        </>
      )}
    </Card>
  )
}
