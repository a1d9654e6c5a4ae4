import fs from 'node:fs'
import { ENV_NAME_OF, settingsFilePath, settingsFrom, type Settings } from './settings'

type FileKey = Exclude<keyof Settings, 'dataDir' | 'apiKey' | 'adminKey'>

/** What settings.json holds (possibly nothing). */
export function readSettingsFile(dataDir: string): Partial<Record<FileKey, unknown>> {
  try {
    return JSON.parse(fs.readFileSync(settingsFilePath(dataDir), 'utf8')) as Partial<Record<FileKey, unknown>>
  } catch {
    return {}
  }
}

/** Settings whose environment variable is set: a change in settings.json would not take effect. */
export function lockedByEnvironment(env: NodeJS.ProcessEnv): Partial<Record<FileKey, string>> {
  const out: Partial<Record<FileKey, string>> = {}
  for (const [key, name] of Object.entries(ENV_NAME_OF) as [FileKey | 'apiKey' | 'adminKey', string][]) {
    if (key !== 'apiKey' && key !== 'adminKey' && env[name] !== undefined && env[name] !== '') out[key] = name
  }
  return out
}

/**
 * Merges `patch` into settings.json after checking the result as the service would read it at start (a bad
 * value throws SettingsError naming it, and nothing is written). The file is replaced atomically.
 */
export function updateSettingsFile(
  dataDir: string,
  env: NodeJS.ProcessEnv,
  patch: Partial<Record<FileKey, unknown>>,
): Settings {
  const next = { ...readSettingsFile(dataDir), ...patch }
  const settings = settingsFrom(dataDir, next, env) // throws before anything is written
  const file = settingsFilePath(dataDir)
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 })
  fs.renameSync(tmp, file)
  return settings
}
