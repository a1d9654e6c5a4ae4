import fs from 'node:fs'
import path from 'node:path'
import pino, { type Logger } from 'pino'

/** Structured JSON log of the service in `<data>/logs/service.log`. */
export function createLogger(dataDir: string, level: string): Logger {
  const dir = path.join(dataDir, 'logs')
  fs.mkdirSync(dir, { recursive: true })
  // Opened here, synchronously, so the logger is ready at once: an early exit cannot find it half-open.
  const fd = fs.openSync(path.join(dir, 'service.log'), 'a', 0o600)
  const destination = pino.destination({ fd, sync: false })
  return pino({ level, base: { pid: process.pid } }, destination)
}
