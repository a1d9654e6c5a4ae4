import Router from '@koa/router'
import type { Context } from 'koa'
import { ApiError, badRequest } from '../../api-error'
import type { Settings } from '../../config/settings'
import { SettingsError, SettingsFileError } from '../../config/settings'
import type { AdminAccess } from '../admin-access'
import { readJsonBody } from '../json-body'
import type { AppState } from '../middleware'
import { echo } from '../../api-params'
import type { ApiKeyRotation, SettingsField, SettingsView } from '../../contract/settings'

/** What the settings routes need from the service. */
export interface SettingsControl {
  settings: () => Settings
  /** The settings as settings.json and the environment say now (what a restart would use). */
  saved: () => Settings
  update: (patch: Partial<Settings>) => Settings
  apiKey: () => string
  apiKeyOrigin: () => string
  regenerateApiKey: () => string
  locked: () => Partial<Record<keyof Settings, string>>
  listening: () => { host: string; port: number }
  /** The base URL another machine would use (the LAN address when the service listens on all of them). */
  shareUrl: () => string
}

/** The dashboard's names for the settings it may change, and the settings behind them. */
const FIELDS = {
  port: 'port',
  thermal_pause_c: 'thermalPauseC',
  thermal_resume_c: 'thermalResumeC',
  chunk_size: 'chunkSize',
  start_at_login: 'startAtLogin',
  batch_hours: 'batchHours',
  batch_when_idle: 'batchWhenIdle',
  gpu_power_limit_w: 'gpuPowerLimitW',
  max_queue_wait_minutes: 'maxQueueWaitMinutes',
} as const satisfies Record<Exclude<SettingsField, 'lan'>, keyof Settings>

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])

/**
 * GET /api/settings (the API key's holders), PUT /api/settings and POST /api/settings/api-key (admins: this
 * machine, or the LAN with the admin key). The API key itself is shown to admins only; others see `api_key:
 * null` (they have a key already: the one they sent).
 */
export function settingsRouter(c: SettingsControl, maxJsonBodyBytes: number, admin: AdminAccess): Router<AppState> {
  const router = new Router<AppState>()

  const view = (ctx: Context): SettingsView => {
    const isAdmin = admin.isAdmin(ctx)
    const saved = c.saved()
    const listening = c.listening()
    const locked = c.locked()
    return {
      port: saved.port,
      lan: !LOOPBACK.has(saved.host),
      host: saved.host,
      thermal_pause_c: saved.thermalPauseC,
      thermal_resume_c: saved.thermalResumeC,
      chunk_size: saved.chunkSize,
      start_at_login: saved.startAtLogin,
      batch_hours: saved.batchHours,
      batch_when_idle: saved.batchWhenIdle,
      gpu_power_limit_w: saved.gpuPowerLimitW,
      max_queue_wait_minutes: saved.maxQueueWaitMinutes,
      admin: isAdmin,
      api_key: isAdmin ? c.apiKey() : null,
      api_key_origin: c.apiKeyOrigin(),
      listening,
      share_url: c.shareUrl(),
      // Port and LAN take effect when the service starts again.
      restart_required: saved.port !== listening.port && saved.port !== 0 ? true : saved.host !== c.settings().host,
      locked: Object.fromEntries(
        Object.entries(FIELDS)
          .map(([field, key]) => [field, locked[key]])
          .concat([['lan', locked.host]])
          .filter(([, v]) => v),
      ) as SettingsView['locked'],
    }
  }

  router.get('/api/settings', (ctx) => {
    try {
      ctx.body = view(ctx)
    } catch (err) {
      if (err instanceof SettingsFileError) throw settingsFileProblem(err, admin.isAdmin(ctx))
      throw err
    }
  })

  router.put('/api/settings', admin.require, async (ctx) => {
    const body = await readJsonBody(ctx, maxJsonBodyBytes)
    const patch: Partial<Settings> = {}
    for (const [field, value] of Object.entries(body)) {
      if (field === 'lan') {
        if (typeof value !== 'boolean') throw badRequest("Invalid 'lan': expected true or false.", 'invalid_type', 'lan')
        patch.host = value ? '0.0.0.0' : '127.0.0.1'
        continue
      }
      const key = (FIELDS as Record<string, keyof Settings>)[field]
      if (!key) {
        throw badRequest(`Unknown setting ${echo(field)}. Settings: ${[...Object.keys(FIELDS), 'lan'].join(', ')}.`, 'invalid_value', field)
      }
      ;(patch as Record<string, unknown>)[key] = value
    }
    try {
      c.update(patch)
    } catch (err) {
      if (err instanceof SettingsFileError) throw settingsFileProblem(err, true)
      if (err instanceof SettingsError) throw settingsRefusal(err, Object.keys(body))
      throw err
    }
    ctx.body = view(ctx)
  })

  router.post('/api/settings/api-key', admin.require, (ctx) => {
    if (c.apiKeyOrigin().startsWith('the VBS_API_KEY')) {
      throw new ApiError(409, 'The API key comes from the VBS_API_KEY environment variable: change it there.', { code: 'key_from_environment' })
    }
    const key = c.regenerateApiKey()
    ctx.body = { api_key: key, api_key_origin: c.apiKeyOrigin() } satisfies ApiKeyRotation
  })

  return router
}

/**
 * A SettingsError as the dashboard's 400: it names the settings.json key (`<file>: "chunkSize" must be at most
 * 100000, got 100001`), which becomes the field the client sent (`Invalid 'chunk_size': must be at most ...`).
 */
function settingsRefusal(err: SettingsError, fields: string[]): ApiError {
  const keyOf = (f: string): string | undefined => (f === 'lan' ? 'host' : (FIELDS as Record<string, string>)[f])
  const field = fields.find((f) => keyOf(f) !== undefined && err.message.includes(`"${keyOf(f)}"`)) ?? null
  if (field === null) return badRequest(err.message, 'invalid_value', null)
  const marker = `"${keyOf(field)}" `
  const reason = err.message.slice(err.message.indexOf(marker) + marker.length)
  return badRequest(`Invalid '${field}': ${reason}.`, 'invalid_value', field)
}

/**
 * settings.json was edited by hand into something unreadable while the service ran: no save may write over it
 * (the user's settings are in it), so reading and saving answer this until it is fixed. The message keeps the
 * parse error; the file's full path is for admins (this machine), others read where it is without the
 * machine's folders.
 */
function settingsFileProblem(err: SettingsFileError, admin: boolean): ApiError {
  const message = admin ? err.message : err.message.split(err.file).join("settings.json (in the service's data folder)")
  return new ApiError(500, `The settings cannot be used: ${message}`, { type: 'server_error', code: 'invalid_settings_file' })
}
