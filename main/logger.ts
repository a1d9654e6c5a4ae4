import fs from 'node:fs'
import path from 'node:path'
import pino, { type Logger } from 'pino'

/** Structured JSON log of the service in `<data>/logs/service.log`. */
export function createLogger(dataDir: string, level: string): Logger {
  const dir = path.join(dataDir, 'logs')
  fs.mkdirSync(dir, { recursive: true })
  // Opened here, synchronously, so the logger is ready at once: an early exit cannot find it half-open.
  const fd = fs.openSync(path.join(dir, 'service.log'), 'a', 0o600)
  // A full disk must not stop the service: lines wait in a bounded buffer (past it they are dropped) and are
  // written once there is room again.
  const destination = pino.destination({ fd, sync: false, maxLength: 8 * 1024 * 1024 })
  let reported = false
  destination.on('write', () => {
    reported = false
  })
  destination.on('error', (err: NodeJS.ErrnoException) => {
    if (!reported) process.stderr.write(`vllm-batch-server: the log file could not be written (${err.code ?? err.message}); lines are lost until it can\n`)
    reported = true
  })
  return pino({ level, base: { pid: process.pid } }, destination)
}
