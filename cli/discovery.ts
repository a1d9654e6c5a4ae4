import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { API_KEY_FILE_NAME, DATA_DIR_NAME, SERVICE_FILE_NAME, type ServiceFile } from '../main/contract/service-file'

/** Where the service is and the key to send, and where that was found (named in errors). */
export interface Connection {
  url: string
  key: string | null
  source: string
}

/** The port the service listens on when settings say nothing. */
const DEFAULT_PORT = 4080

/** The service's data dir as it chooses it: VBS_DATA_DIR, else $XDG_DATA_HOME/vllm-batch-server, else ~/.local/share/... */
export function dataDirOf(env: NodeJS.ProcessEnv): string {
  if (env.VBS_DATA_DIR) return path.resolve(env.VBS_DATA_DIR)
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(env.HOME || os.homedir(), '.local', 'share')
  return path.join(xdg, DATA_DIR_NAME)
}

/**
 * Finds the server and its key, first match wins:
 * 1. `VBS_URL` (key: `VBS_API_KEY`, else the local key file when the URL is this machine's loopback);
 * 2. the OpenAI conventions `OPENAI_BASE_URL` (its `/v1` dropped) with `VBS_API_KEY` or `OPENAI_API_KEY` (or,
 *    on loopback, the local key file);
 * 3. the local data dir: `service.json` (written by a running service, whatever its port), else
 *    `http://127.0.0.1:<VBS_PORT or settings.json port or 4080>`, with the key file `api-key` (or `VBS_API_KEY`).
 */
export function discover(env: NodeJS.ProcessEnv): Connection {
  const dataDir = dataDirOf(env)
  const localKey = (): string | null => readText(path.join(dataDir, API_KEY_FILE_NAME))
  // This machine's key goes only to this machine: never to another server named by a variable.
  const localKeyFor = (url: string): string | null => (isLoopback(url) ? localKey() : null)
  if (env.VBS_URL) return { url: trimBase(env.VBS_URL), key: env.VBS_API_KEY || localKeyFor(env.VBS_URL), source: 'VBS_URL' }
  if (env.OPENAI_BASE_URL) return { url: trimBase(env.OPENAI_BASE_URL), key: env.VBS_API_KEY || env.OPENAI_API_KEY || localKeyFor(env.OPENAI_BASE_URL), source: 'OPENAI_BASE_URL' }
  const serviceFile = path.join(dataDir, SERVICE_FILE_NAME)
  const running = readJson<ServiceFile>(serviceFile)
  if (running && typeof running.url === 'string') return { url: trimBase(running.url), key: env.VBS_API_KEY || localKey(), source: serviceFile }
  const settings = readJson<{ port?: unknown }>(path.join(dataDir, 'settings.json'))
  const port = Number(env.VBS_PORT) || (typeof settings?.port === 'number' && settings.port > 0 ? settings.port : DEFAULT_PORT)
  return { url: `http://127.0.0.1:${port}`, key: env.VBS_API_KEY || localKey(), source: `no VBS_URL, no running service recorded in ${dataDir}` }
}

/** A base URL without a trailing slash or `/v1` (the OpenAI SDK's base URL ends in /v1; ours is the server's root). */
export function trimBase(url: string): string {
  return url.trim().replace(/\/+$/, '').replace(/\/v1$/, '')
}

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '')
    return host === 'localhost' || host === '::1' || /^127\./.test(host)
  } catch {
    return false
  }
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim() || null
  } catch {
    return null
  }
}

function readJson<T>(file: string): T | null {
  const text = readText(file)
  if (text === null) return null
  try {
    return JSON.parse(text) as T
  } catch {
    return null
  }
}
