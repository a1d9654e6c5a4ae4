import { useEffect, useId, useState } from 'react'
import { useAuthStore } from '../store/auth'
import { useSettingsStore } from '../store/settings'
import type { SettingsField, SettingsPatch, SettingsView } from '../types'
import { Card } from './Card'

type NumberField = 'port' | 'thermal_pause_c' | 'thermal_resume_c' | 'chunk_size' | 'gpu_power_limit_w' | 'max_queue_wait_minutes'
type BoolField = 'lan' | 'start_at_login' | 'batch_when_idle'
type TextField = 'batch_hours'

/** The form's values: numbers as typed, so a half-typed value is not lost. */
type Draft = Record<NumberField | TextField, string> & Record<BoolField, boolean>

const TEXT_FIELDS: { field: TextField; label: string; placeholder: string; hint: string }[] = [
  {
    field: 'batch_hours',
    label: 'Batch hours',
    placeholder: '22:00-07:00',
    hint: 'Batch jobs run only inside this daily window (local time; it may cross midnight). Empty: at any hour. Real-time requests are always served.',
  },
]

const NUMBER_FIELDS: { field: NumberField; label: string; unit?: string; hint?: string }[] = [
  { field: 'port', label: 'Port', hint: 'Takes effect when the service starts again.' },
  { field: 'thermal_pause_c', label: 'Pause batches at', unit: '°C' },
  { field: 'thermal_resume_c', label: 'Resume batches at', unit: '°C', hint: 'Must be below the pause temperature.' },
  { field: 'chunk_size', label: 'Chunk size', unit: 'requests' },
  { field: 'gpu_power_limit_w', label: 'GPU power cap', unit: 'W', hint: 'Fewer batch requests in flight while the GPU draws more. 0: no cap.' },
  { field: 'max_queue_wait_minutes', label: 'Longest wait behind other models', unit: 'minutes', hint: 'Jobs of the loaded model go first, but no job waits longer than this.' },
]

const BOOL_FIELDS: { field: BoolField; label: string; hint: string }[] = [
  { field: 'lan', label: 'Serve the LAN', hint: 'Off: only this machine (127.0.0.1) can connect. Takes effect when the service starts again.' },
  { field: 'start_at_login', label: 'Start at login', hint: 'Start the desktop app when you log in.' },
  { field: 'batch_when_idle', label: 'Batches only while the desktop is idle', hint: 'The desktop app only; a headless service ignores it.' },
]

const toDraft = (s: SettingsView): Draft => ({
  port: String(s.port),
  thermal_pause_c: String(s.thermal_pause_c),
  thermal_resume_c: String(s.thermal_resume_c),
  chunk_size: String(s.chunk_size),
  gpu_power_limit_w: String(s.gpu_power_limit_w),
  max_queue_wait_minutes: String(s.max_queue_wait_minutes),
  batch_hours: s.batch_hours,
  lan: s.lan,
  start_at_login: s.start_at_login,
  batch_when_idle: s.batch_when_idle,
})

function FieldError(props: { id: string; message: string | undefined }): React.JSX.Element | null {
  if (!props.message) return null
  return (
    <p className="field-error" id={props.id} role="alert">
      {props.message}
    </p>
  )
}

function LockNote(props: { env: string | undefined }): React.JSX.Element | null {
  if (!props.env) return null
  return (
    <p className="muted small">
      Set by the environment variable <code>{props.env}</code>: change it there.
    </p>
  )
}

function SettingsForm(props: { settings: SettingsView }): React.JSX.Element {
  const { settings } = props
  const save = useSettingsStore((s) => s.save)
  const saving = useSettingsStore((s) => s.saving)
  const fieldErrors = useSettingsStore((s) => s.fieldErrors)
  const formError = useSettingsStore((s) => s.formError)
  const saved = useSettingsStore((s) => s.saved)
  const clearFeedback = useSettingsStore((s) => s.clearFeedback)
  const [draft, setDraft] = useState<Draft>(() => toDraft(settings))
  const [dirty, setDirty] = useState(false)
  const [localErrors, setLocalErrors] = useState<Partial<Record<SettingsField, string>>>({})
  const id = useId()

  // Values changed elsewhere (another window, the tray) show up here unless the user is editing.
  useEffect(() => {
    if (!dirty) setDraft(toDraft(settings))
  }, [settings, dirty])

  const edit = <K extends keyof Draft>(field: K, value: Draft[K]): void => {
    setDraft((d) => ({ ...d, [field]: value }))
    setDirty(true)
    setLocalErrors({})
    clearFeedback()
  }

  const onSubmit = async (): Promise<void> => {
    const patch: SettingsPatch = {}
    const errors: Partial<Record<SettingsField, string>> = {}
    for (const { field } of NUMBER_FIELDS) {
      if (settings.locked[field]) continue
      const text = draft[field].trim()
      const n = Number(text)
      if (text === '' || !Number.isFinite(n)) {
        errors[field] = 'Enter a number.'
        continue
      }
      if (n !== settings[field]) patch[field] = n
    }
    for (const { field } of BOOL_FIELDS) {
      if (!settings.locked[field] && draft[field] !== settings[field]) patch[field] = draft[field]
    }
    for (const { field } of TEXT_FIELDS) {
      // The service checks the window and says what is wrong with it.
      if (!settings.locked[field] && draft[field].trim() !== settings[field]) patch[field] = draft[field].trim()
    }
    setLocalErrors(errors)
    if (Object.keys(errors).length > 0) return
    if (Object.keys(patch).length === 0) {
      setDirty(false)
      return
    }
    await save(patch)
    if (useSettingsStore.getState().formError === null && Object.keys(useSettingsStore.getState().fieldErrors).length === 0) setDirty(false)
  }

  const errorOf = (field: SettingsField): string | undefined => localErrors[field] ?? fieldErrors[field]

  return (
    <form
      className="settings-form"
      onSubmit={(e) => {
        e.preventDefault()
        void onSubmit()
      }}
      noValidate
    >
      <div className="settings-grid">
        {[
          ...NUMBER_FIELDS.map((f) => ({ ...f, type: 'number' as const, placeholder: undefined })),
          ...TEXT_FIELDS.map((f) => ({ ...f, type: 'text' as const, unit: undefined })),
        ].map(({ field, label, unit, hint, type, placeholder }) => {
          const env = settings.locked[field]
          const errId = `${id}-${field}-error`
          const error = errorOf(field)
          return (
            <div className={`field${error ? ' field-invalid' : ''}`} key={field} data-testid={`setting-${field}`}>
              <label htmlFor={`${id}-${field}`}>
                {label}
                {unit ? ` (${unit})` : ''}
              </label>
              <input
                id={`${id}-${field}`}
                name={field}
                type={type}
                inputMode={type === 'number' ? 'numeric' : undefined}
                placeholder={placeholder}
                value={draft[field]}
                readOnly={env !== undefined}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? errId : undefined}
                onChange={(e) => edit(field, e.target.value)}
              />
              <FieldError id={errId} message={error} />
              <LockNote env={env} />
              {!env && hint && <p className="muted small">{hint}</p>}
            </div>
          )
        })}
        {BOOL_FIELDS.map(({ field, label, hint }) => {
          const env = settings.locked[field]
          const errId = `${id}-${field}-error`
          const error = errorOf(field)
          return (
            <div className={`field${error ? ' field-invalid' : ''}`} key={field} data-testid={`setting-${field}`}>
              <label className="check">
                <input
                  name={field}
                  type="checkbox"
                  checked={draft[field]}
                  disabled={env !== undefined}
                  aria-describedby={error ? errId : undefined}
                  onChange={(e) => edit(field, e.target.checked)}
                />
                {label}
              </label>
              <FieldError id={errId} message={error} />
              <LockNote env={env} />
              {!env && <p className="muted small">{hint}</p>}
            </div>
          )
        })}
      </div>
      {formError && (
        <p className="callout callout-danger" role="alert">
          {formError}
        </p>
      )}
      <div className="row">
        <button type="submit" className="primary" disabled={saving || !dirty}>
          {saving ? 'Saving…' : 'Save settings'}
        </button>
        {saved && !dirty && (
          <span className="ok-text small" role="status">
            Saved.
          </span>
        )}
      </div>
    </form>
  )
}

function ApiKey(props: { settings: SettingsView }): React.JSX.Element {
  const { settings } = props
  // A LAN client that is not an admin is not sent the key (api_key null): it shows the one it connected with.
  const key = useAuthStore((s) => s.key) ?? settings.api_key ?? ''
  const regenerate = useSettingsStore((s) => s.regenerateKey)
  const regenerating = useSettingsStore((s) => s.regenerating)
  const keyError = useSettingsStore((s) => s.keyError)
  const copied = useSettingsStore((s) => s.copied)
  const copy = useSettingsStore((s) => s.copy)
  const [revealed, setRevealed] = useState(false)
  const [confirming, setConfirming] = useState(false)
  const fromEnv = settings.api_key_origin.includes('VBS_API_KEY')
  const id = useId()
  return (
    <div className="api-key">
      <h3>API key</h3>
      <div className="row">
        <label htmlFor={`${id}-key`} className="visually-hidden">
          API key
        </label>
        {/* Masked by hand rather than type=password: no password manager offers to save the service's key. */}
        <input
          id={`${id}-key`}
          className="mono key-input"
          type="text"
          value={revealed ? key : '•'.repeat(Math.min(Math.max(key.length, 8), 32))}
          readOnly
          spellCheck={false}
          autoComplete="off"
          data-testid="api-key"
          data-revealed={revealed}
        />
        <button type="button" aria-pressed={revealed} onClick={() => setRevealed((r) => !r)}>
          {revealed ? 'Hide' : 'Show'}
        </button>
        <button type="button" onClick={() => void copy('key')}>
          {copied === 'key' ? 'Copied' : 'Copy key'}
        </button>
        <button type="button" onClick={() => void copy('link')}>
          {copied === 'link' ? 'Copied' : 'Copy dashboard link'}
        </button>
      </div>
      <p className="muted small">
        Kept in {settings.api_key_origin}. Clients send it as <code>Authorization: Bearer &lt;key&gt;</code>. The dashboard link opens this page on
        another machine with the key filled in.
      </p>
      {fromEnv ? (
        <p className="muted small">
          The key comes from <code>VBS_API_KEY</code>: to change it, change the variable and restart the service.
        </p>
      ) : confirming ? (
        <div className="callout callout-warn">
          <p>Every client that uses the current key (scripts, other browsers) stops working until it gets the new one.</p>
          <div className="row">
            <button
              type="button"
              className="danger"
              disabled={regenerating}
              onClick={() => {
                void regenerate().then(() => setConfirming(false))
              }}
            >
              {regenerating ? 'Regenerating…' : 'Regenerate now'}
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Keep the current key
            </button>
          </div>
        </div>
      ) : (
        <button type="button" onClick={() => setConfirming(true)}>
          Regenerate key…
        </button>
      )}
      {keyError && (
        <p className="callout callout-danger small" role="alert">
          {keyError}
        </p>
      )}
    </div>
  )
}

export function SettingsSection(): React.JSX.Element {
  const settings = useSettingsStore((s) => s.settings)
  const loadError = useSettingsStore((s) => s.loadError)
  return (
    <Card
      id="settings"
      title="Settings"
      wide
      head={
        <>
          {settings && (
            <span className="muted small">
              listening on {settings.listening.host}:{settings.listening.port}
            </span>
          )}
        </>
      }
    >
      {!settings ? (
        loadError ? <p className="callout callout-danger">Could not read the settings: {loadError}</p> : <p className="muted">Loading…</p>
      ) : (
        <>
          {settings.restart_required && (
            <p className="callout callout-warn" data-testid="restart-required">
              <strong>Restart needed:</strong> the service still listens on {settings.listening.host}:{settings.listening.port}; the saved address and port (
              {settings.host}:{settings.port}) take effect when it starts again (quit and reopen the app, or restart <code>npm run serve</code>).
            </p>
          )}
          <SettingsForm settings={settings} />
          <ApiKey settings={settings} />
        </>
      )}
    </Card>
  )
}
