import * as api from '../api/bridge'
import { formatHash, type Route, type ViewName } from '../route'
import { useConnectionStore } from '../store/connection'
import { useRouteStore } from '../store/route'
import type { Health, HealthProblem } from '../types'
import { useNow } from './use-now'

function StreamStatus(): React.JSX.Element {
  const stream = useConnectionStore((s) => s.stream)
  switch (stream.state) {
    case 'open':
      return <span className="pill pill-ok" title="Receiving live updates from the service">Live</span>
    case 'connecting':
      return <span className="pill">Connecting…</span>
    case 'closed':
      return <span className="pill pill-warn">Not connected</span>
    case 'waiting':
      return <Reconnecting retryAt={stream.retryAt} error={stream.error} />
  }
}

function Reconnecting(props: { retryAt: number; error: string }): React.JSX.Element {
  const now = useNow(1000)
  const s = Math.max(0, Math.ceil((props.retryAt - now) / 1000))
  return (
    <span className="pill pill-warn" title={props.error}>
      Live updates interrupted: reconnecting {s > 0 ? `in ${s} s` : 'now'}
    </span>
  )
}

/** Why /health says `degraded`, in words. */
function degradedBecause(health: Health): string {
  const why = (health.problems ?? []).map((code) => PROBLEMS[code] ?? code)
  return why.length > 0 ? why.join('; ') : 'see /health'
}

const PROBLEMS: Record<HealthProblem, string> = {
  disk_full: 'the data disk is full: batches are held until space is freed',
  loop_not_beating: 'the batch scheduler is not running',
  runner_stale: 'the running batch has sent nothing for a minute',
  engine_failed: 'the engine failed',
  thermal_pause: 'batches are paused for GPU heat',
}

function Version(): React.JSX.Element | null {
  const health = useConnectionStore((s) => s.health)
  if (!health) return null
  return (
    <>
      <span className="muted">v{health.version}</span>
      {health.status === 'degraded' && (
        <span className="pill pill-warn" title={`Degraded: ${degradedBecause(health)}`}>
          degraded: {degradedBecause(health)}
        </span>
      )}
    </>
  )
}

const NAV: { label: string; route: Route; views: ViewName[] }[] = [
  { label: 'Overview', route: { view: 'overview' }, views: ['overview', 'job'] },
  { label: 'Compare', route: { view: 'compare', comparisonId: null }, views: ['compare'] },
  { label: 'Settings', route: { view: 'settings' }, views: ['settings'] },
]

/** The views, as links (the address is the route: a link can be opened in a new tab or copied). */
function Nav(): React.JSX.Element {
  const view = useRouteStore((s) => s.route.view)
  return (
    <nav className="nav" aria-label="Views">
      {NAV.map((item) => (
        <a key={item.label} href={formatHash(item.route)} aria-current={item.views.includes(view) ? 'page' : undefined}>
          {item.label}
        </a>
      ))}
    </nav>
  )
}

export function Header(): React.JSX.Element {
  const native = api.nativeActions()
  return (
    <header className="topbar">
      <h1>vLLM Batch Server</h1>
      <Nav />
      <Version />
      <StreamStatus />
      <span className="spacer" />
      {native.openDataFolder && (
        <button type="button" onClick={native.openDataFolder}>
          Open data folder
        </button>
      )}
      {native.openLogs && (
        <button type="button" onClick={native.openLogs}>
          Open logs
        </button>
      )}
    </header>
  )
}
