import { useEffect } from 'react'
import { ConnectionBanner, ThermalBanner } from './components/Banners'
import { DropOverlay } from './components/DropOverlay'
import { EngineSection } from './components/EngineSection'
import { GpuSection } from './components/GpuSection'
import { Header } from './components/Header'
import { KeyForm } from './components/KeyForm'
import { NewBatchSection } from './components/NewBatchSection'
import { QueueSection } from './components/QueueSection'
import { SettingsSection } from './components/SettingsSection'
import { startLive } from './live'
import { useAuthStore } from './store/auth'

function Dashboard(): React.JSX.Element {
  useEffect(() => startLive(), [])
  return (
    <div className="app">
      <Header />
      <div className="banners">
        <ConnectionBanner />
        <ThermalBanner />
      </div>
      <main className="grid">
        <EngineSection />
        <GpuSection />
        <NewBatchSection />
        <QueueSection />
        <SettingsSection />
      </main>
      <DropOverlay />
    </div>
  )
}

/** The dashboard once an API key is known; until then, the form that asks for it. */
export function App(): React.JSX.Element {
  const hasKey = useAuthStore((s) => s.key !== null)
  return hasKey ? <Dashboard /> : <KeyForm />
}
