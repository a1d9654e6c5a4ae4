// Decisions taken at launch, before anything is shown. Pure: argv, the environment and errors are handed in.
import path from 'node:path'

/** Added to the command line of the login item / autostart entry: start in the tray, with no window. */
export const HIDDEN_FLAG = '--hidden'

/**
 * Whether this launch shows the window: not when started at login (`--hidden`, which Windows and the Linux
 * autostart entry pass; macOS passes no arguments to login items and says `wasOpenedAtLogin` instead).
 */
export function startsHidden(argv: readonly string[], openedAtLogin = false): boolean {
  return openedAtLogin || argv.includes(HIDDEN_FLAG)
}

/**
 * Electron's own profile folder (and with it the single-instance lock). With VBS_DATA_DIR set, it goes inside
 * that data dir: a separate data dir is a separate instance (tests, a second configuration), which must neither
 * share the lock nor Chromium's profile with the everyday app. Otherwise Electron's default (null).
 */
export function userDataDir(env: NodeJS.ProcessEnv): string | null {
  const dir = env.VBS_DATA_DIR?.trim()
  return dir ? path.join(path.resolve(dir), 'electron') : null
}

/** Where the settings for the port and host are documented, for the start-up error. */
interface Listening {
  host: string
  port: number
}

/**
 * The dialog shown when the service cannot start, naming the problem and what to do. The commonest case (the
 * port is taken, by another instance with a separate data dir or another program) gets its own words.
 */
export function startFailure(err: unknown, listening: Listening | null): { title: string; message: string } {
  const e = err as NodeJS.ErrnoException
  const message = err instanceof Error ? err.message : String(err)
  const title = 'vLLM Batch Server cannot start'
  if (e?.code === 'EADDRINUSE' && listening) {
    return {
      title,
      message:
        `Port ${listening.port} on ${listening.host} is already in use: another program (or another vLLM Batch ` +
        `Server) is listening there.\n\nStop that program, or choose another port: "port" in settings.json in the ` +
        `data folder, or the VBS_PORT environment variable.\n\n(${message})`,
    }
  }
  if ((e?.code === 'EACCES' || e?.code === 'EADDRNOTAVAIL') && listening) {
    return {
      title,
      message:
        `Cannot listen on ${listening.host}:${listening.port}: ${message}.\n\nChoose another port or host: "port" and ` +
        `"host" in settings.json in the data folder, or VBS_PORT and VBS_HOST.`,
    }
  }
  return { title, message }
}
