import { SettingsSection } from '../components/SettingsSection'

/** `#/settings`: the service's settings and its API key. */
export function SettingsView(): React.JSX.Element {
  return (
    <main className="grid" data-testid="settings-view">
      <SettingsSection />
    </main>
  )
}
