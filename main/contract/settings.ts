/** The settings the dashboard may change with `PUT /api/settings`. */
export interface SettingsPatch {
  port?: number
  lan?: boolean
  thermal_pause_c?: number
  thermal_resume_c?: number
  chunk_size?: number
  start_at_login?: boolean
  /** The daily batch window, `22:00-07:00` (local time); '' = any hour. */
  batch_hours?: string
  /** Batches only while the desktop is idle (the desktop app; ignored headless). */
  batch_when_idle?: boolean
  /** The GPU power cap in watts the runner keeps under by narrowing its in-flight window; 0 = none. */
  gpu_power_limit_w?: number
  /** The longest a job waits behind jobs of the loaded model before it goes first. */
  max_queue_wait_minutes?: number
}
export type SettingsField = keyof SettingsPatch

/** `GET /api/settings` and the answer to `PUT /api/settings`. */
export interface SettingsView {
  port: number
  lan: boolean
  host: string
  thermal_pause_c: number
  thermal_resume_c: number
  chunk_size: number
  start_at_login: boolean
  batch_hours: string
  batch_when_idle: boolean
  gpu_power_limit_w: number
  max_queue_wait_minutes: number
  /** Whether this client may change settings, the key and the engine (this machine, or the admin key). */
  admin: boolean
  /** Shown to admins only; null for a LAN client without the admin key (it already has the key it sent). */
  api_key: string | null
  api_key_origin: string
  listening: { host: string; port: number }
  /** The base URL another machine would use (the LAN address when the service serves the LAN). */
  share_url: string
  /** Port or LAN changed: they take effect when the service starts again. */
  restart_required: boolean
  /** Field -> the environment variable that sets it (and so makes it read-only here). */
  locked: Partial<Record<SettingsField, string>>
}

/** `POST /api/settings/api-key`: the new key. */
export interface ApiKeyRotation {
  api_key: string
  api_key_origin: string
}
