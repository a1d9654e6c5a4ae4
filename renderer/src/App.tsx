import { useEffect } from 'react'
import { ConnectionBanner, ThermalBanner } from './components/Banners'
import { DropOverlay } from './components/DropOverlay'
import { Header } from './components/Header'
import { KeyForm } from './components/KeyForm'
import { startLive } from './live'
import { useAuthStore } from './store/auth'
import { startRouting, useRouteStore } from './store/route'
import { CompareView } from './views/CompareView'
import { JobView } from './views/JobView'
import { OverviewView } from './views/OverviewView'
import { SettingsView } from './views/SettingsView'

/** The view the address names. */
function CurrentView(): React.JSX.Element {
  const route = useRouteStore((s) => s.route)
  switch (route.view) {
    case 'overview':
      return <OverviewView />
    case 'job':
      return <JobView batchId={route.batchId} params={route.params} />
    case 'compare':
      return <CompareView comparisonId={route.comparisonId} params={route.params} />
    case 'settings':
      return <SettingsView />
  }
}

function Dashboard(): React.JSX.Element {
  useEffect(() => startRouting(), [])
  useEffect(() => startLive(), [])
  return (
    <div className="app">
      <Header />
      <div className="banners">
        <ConnectionBanner />
        <ThermalBanner />
      </div>
      <CurrentView />
      <DropOverlay />
    </div>
  )
}

/** The dashboard once an API key is known; until then, the form that asks for it. */
export function App(): React.JSX.Element {
  const hasKey = useAuthStore((s) => s.key !== null)
  return hasKey ? <Dashboard /> : <KeyForm />
}
