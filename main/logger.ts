import fs from 'node:fs'
import path from 'node:path'
import pino, { type Logger } from 'pino'

/** Structured JSON log of the service in `<data>/logs/service.log`. */
export function createLogger(dataDir: string, level: string): Logger {
  const dir = path.join(dataDir, 'logs')
  fs.mkdirSync(dir, { recursive: true })
  const destination = pino.destination({ dest: path.join(dir, 'service.log'), sync: false, mkdir: true })
  return pino({ level, base: { pid: process.pid } }, destination)
}
