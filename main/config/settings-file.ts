import fs from 'node:fs'
import { ENV_NAME_OF, readSettingsJson, SettingsFileError, settingsFilePath, settingsFrom, type Settings } from './settings'

type FileKey = Exclude<keyof Settings, 'dataDir' | 'apiKey' | 'adminKey'>

/**
 * What settings.json holds; {} when there is no such file. A file that cannot be read, is not JSON or is not an
 * object throws SettingsFileError naming it (and the parse error): it is never mistaken for an empty one.
 */
export function readSettingsFile(dataDir: string): Partial<Record<FileKey, unknown>> {
  const file = settingsFilePath(dataDir)
  const content = readSettingsJson(file)
  if (content === undefined) return {}
  if (content === null || typeof content !== 'object' || Array.isArray(content)) {
    throw new SettingsFileError(file, `${file} must hold a JSON object of settings. Fix the file or remove it (the defaults then apply); it is left as it is.`)
  }
  return content as Partial<Record<FileKey, unknown>>
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
 * value throws SettingsError naming it, and nothing is written). A settings.json that does not parse throws
 * SettingsFileError and stays as it is: the user's settings are in it. The file is replaced atomically.
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
  try {
    const fd = fs.openSync(tmp, 'w', 0o600)
    try {
      fs.writeFileSync(fd, `${JSON.stringify(next, null, 2)}\n`)
      // On disk before the rename: a power cut must leave the old file or the new one, never an empty one.
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, file)
  } catch (err) {
    fs.rmSync(tmp, { force: true })
    throw err
  }
  return settings
}
