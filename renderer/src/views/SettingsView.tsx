import { SettingsSection } from '../components/SettingsSection'
import { WebhooksSection } from '../components/WebhooksSection'

/** `#/settings`: the service's settings, its API key and the webhooks. */
export function SettingsView(): React.JSX.Element {
  return (
    <main className="grid" data-testid="settings-view">
      <SettingsSection />
      <WebhooksSection />
    </main>
  )
}
