import { useEffect } from 'react'
import { serverUrl } from './api'
import { useHealthStore } from './store/health'

/** How often the dashboard asks the service whether it is up. */
const HEALTH_POLL_MS = 5000

function HealthLine(): React.JSX.Element {
  const health = useHealthStore((s) => s.health)
  switch (health.state) {
    case 'loading':
      return <p className="health">Checking the service…</p>
    case 'up':
      return (
        <p className="health health-up">
          Service up: version {health.health.version}, running for {health.health.uptime_s} s
        </p>
      )
    case 'down':
      return <p className="health health-down">Service unreachable: {health.error}</p>
  }
}

export function App(): React.JSX.Element {
  const refresh = useHealthStore((s) => s.refresh)
  useEffect(() => {
    void refresh()
    const timer = setInterval(() => void refresh(), HEALTH_POLL_MS)
    return () => clearInterval(timer)
  }, [refresh])

  return (
    <main>
      <h1>vLLM Batch Server</h1>
      <HealthLine />
      <p className="server-url">{serverUrl()}</p>
    </main>
  )
}
