import fs from 'node:fs'
import path from 'node:path'
import { ROOT } from './service'
import { serveArgs } from './serve-command'
import { spawnReady, type ReadyChild } from './spawn-ready'

export interface ChildService extends Omit<ReadyChild, 'ready'> {
  url: string
}

/** Starts `npm run serve`'s command (as package.json has it) as a real child process. */
export function spawnServe(env: Record<string, string>): ChildService & { ready: Promise<string> } {
  const started = spawnReady(
    process.execPath,
    serveArgs(),
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', VBS_HOST: '127.0.0.1', VBS_PORT: '0', ...env } },
    { pattern: /\(this machine: (http:\/\/[^)]+)\)/, what: 'the service', timeoutMs: 60_000 },
  )
  const result = { ...started, url: '' }
  void started.ready.then((u) => (result.url = u)).catch(() => undefined)
  return result
}

export function readKey(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim()
}
