import fs from 'node:fs'
import path from 'node:path'

/** Where a command would be run from: a path as given, or the first match on PATH. */
export function findExecutable(command: string, envPath = process.env.PATH ?? ''): { found: string | null; lookedIn: string[] } {
  const candidates = command.includes('/')
    ? [path.resolve(command)]
    : envPath
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, command))
  for (const c of candidates) {
    try {
      const st = fs.statSync(c)
      if (st.isFile()) {
        fs.accessSync(c, fs.constants.X_OK)
        return { found: c, lookedIn: candidates }
      }
    } catch {
      // not here
    }
  }
  return { found: null, lookedIn: candidates }
}
