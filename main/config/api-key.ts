import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { API_KEY_FILE_NAME } from '../contract/service-file'

export interface ApiKeySource {
  key: string
  /** Where the key is kept: the key file's path, or the environment variable. */
  origin: string
}

export function apiKeyPath(dataDir: string): string {
  return path.join(dataDir, API_KEY_FILE_NAME)
}

export function generateApiKey(): string {
  return `vbs-${crypto.randomBytes(24).toString('base64url')}`
}

/**
 * The key from VBS_API_KEY when set; else the key file in the data dir, created on first run with
 * mode 0600 so only the owner can read it.
 */
export function loadApiKey(dataDir: string, fromEnv: string | null): ApiKeySource {
  if (fromEnv) return { key: fromEnv, origin: 'the VBS_API_KEY environment variable' }
  const file = apiKeyPath(dataDir)
  try {
    const key = fs.readFileSync(file, 'utf8').trim()
    if (key) {
      // Tighten a key file someone loosened by hand.
      if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600)
      return { key, origin: file }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  return { key: writeNewApiKey(dataDir), origin: file }
}

/** Generates a key and stores it (mode 0600), replacing the old one; the old key stops working. */
export function writeNewApiKey(dataDir: string): string {
  const file = apiKeyPath(dataDir)
  const key = generateApiKey()
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, `${key}\n`, { mode: 0o600 })
  fs.renameSync(tmp, file)
  return key
}

/** Constant-time comparison of a presented key with the expected one. */
export function keysMatch(presented: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(presented).digest()
  const b = crypto.createHash('sha256').update(expected).digest()
  return crypto.timingSafeEqual(a, b)
}

/** The key of an `Authorization: Bearer <key>` header, or null when the header is not of that form. */
export function bearerKey(header: string | undefined): string | null {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '')
  return match ? match[1].trim() : null
}

/** Whether an Authorization header carries `expected` as its Bearer key (compared in constant time). */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  const key = bearerKey(header)
  return key !== null && keysMatch(key, expected)
}
