import { useConnectionStore } from '../store/connection'
import { useGpuStore } from '../store/gpu'
import { HEALTH_POLL_MS } from '../live'

/** The service does not answer at all. */
export function ConnectionBanner(): React.JSX.Element | null {
  const down = useConnectionStore((s) => s.reachable === 'down')
  const problem = useConnectionStore((s) => s.problem)
  if (!down) return null
  return (
    <div className="banner banner-danger" role="alert" data-testid="service-unreachable">
      <strong>{problem}</strong> Checking again every {HEALTH_POLL_MS / 1000} s.
    </div>
  )
}

/** Batches are held because the GPU is hot. */
export function ThermalBanner(): React.JSX.Element | null {
  const paused = useGpuStore((s) => s.thermal.paused)
  const reason = useGpuStore((s) => s.thermal.reason)
  if (!paused) return null
  return (
    <div className="banner banner-warn" role="alert" data-testid="thermal-banner">
      <strong>The GPU is too hot: batch jobs are paused.</strong> {reason ?? 'paused: GPU at or above the pause temperature'}.{' '}
      They continue on their own once it has cooled down.
    </div>
  )
}
