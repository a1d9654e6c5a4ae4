import Router from '@koa/router'
import { ApiError, badRequest } from '../../api-error'
import type { Settings } from '../../config/settings'
import { SettingsError } from '../../config/settings'
import { readJsonBody } from '../json-body'
import type { AppState } from '../middleware'

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
} as const satisfies Record<string, keyof Settings>

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])

export function settingsRouter(c: SettingsControl, maxJsonBodyBytes: number): Router<AppState> {
  const router = new Router<AppState>()

  const view = (): Record<string, unknown> => {
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
      api_key: c.apiKey(),
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
      ),
    }
  }

  router.get('/api/settings', (ctx) => {
    ctx.body = view()
  })

  router.put('/api/settings', async (ctx) => {
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
        throw badRequest(`Unknown setting '${field}'. Settings: ${[...Object.keys(FIELDS), 'lan'].join(', ')}.`, 'invalid_value', field)
      }
      ;(patch as Record<string, unknown>)[key] = value
    }
    try {
      c.update(patch)
    } catch (err) {
      if (err instanceof SettingsError) {
        const field = Object.keys(body).find((f) => err.message.includes(`"${(FIELDS as Record<string, string>)[f]}"`)) ?? null
        throw badRequest(err.message, 'invalid_value', field)
      }
      throw err
    }
    ctx.body = view()
  })

  router.post('/api/settings/api-key', (ctx) => {
    if (c.apiKeyOrigin().startsWith('the VBS_API_KEY')) {
      throw new ApiError(409, 'The API key comes from the VBS_API_KEY environment variable: change it there.', { code: 'key_from_environment' })
    }
    const key = c.regenerateApiKey()
    ctx.body = { api_key: key, api_key_origin: c.apiKeyOrigin() }
  })

  return router
}
