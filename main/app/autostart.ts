// Start at login, the parts that need no Electron: which mechanism a platform uses, and on Linux the XDG
// autostart entry itself (Electron's app.setLoginItemSettings does nothing there). login-item.ts carries out
// the plan with Electron.
import fs from 'node:fs'
import path from 'node:path'
import { HIDDEN_FLAG } from './launch'

/** The file name of the Linux autostart entry (also the app's executable and icon name in the deb). */
export const AUTOSTART_NAME = 'vllm-batch-server'

export interface AutostartContext {
  platform: NodeJS.Platform
  /** app.isPackaged: a development run (`npm start`) registers nothing. */
  packaged: boolean
  env: NodeJS.ProcessEnv
  homeDir: string
  /** process.execPath: the app's executable (inside the mounted image for an AppImage: see APPIMAGE). */
  execPath: string
}

export type AutostartPlan =
  /** macOS and Windows: app.setLoginItemSettings with these settings. */
  | { kind: 'login-item'; settings: { openAtLogin: boolean; args: string[] } }
  /** Linux: write `content` to `file`, or remove the file when content is null. */
  | { kind: 'xdg'; file: string; content: string | null }
  /** Nothing is done, for this reason. */
  | { kind: 'none'; reason: string }

/** What to do to make start at login `enabled` on this machine. */
export function autostartPlan(enabled: boolean, ctx: AutostartContext): AutostartPlan {
  if (!ctx.packaged) {
    // A development run's executable is the bare Electron binary in node_modules, which would open nothing at
    // login; only the packaged app registers itself.
    return { kind: 'none', reason: 'a development run does not register itself to start at login' }
  }
  if (ctx.platform === 'darwin' || ctx.platform === 'win32') {
    return { kind: 'login-item', settings: { openAtLogin: enabled, args: [HIDDEN_FLAG] } }
  }
  if (ctx.platform === 'linux' || ctx.platform === 'freebsd' || ctx.platform === 'openbsd') {
    const file = xdgAutostartFile(ctx.env, ctx.homeDir)
    return { kind: 'xdg', file, content: enabled ? desktopEntry(linuxExecutable(ctx.env, ctx.execPath)) : null }
  }
  return { kind: 'none', reason: `start at login is not supported on ${ctx.platform}` }
}

/**
 * The executable to start at login. An AppImage runs from a temporary mount (process.execPath changes at every
 * start); the AppImage runtime puts the image's own path in $APPIMAGE.
 */
export function linuxExecutable(env: NodeJS.ProcessEnv, execPath: string): string {
  const appImage = env.APPIMAGE?.trim()
  return appImage && path.isAbsolute(appImage) ? appImage : execPath
}

/**
 * `$XDG_CONFIG_HOME/autostart/vllm-batch-server.desktop`, `$XDG_CONFIG_HOME` defaulting to `~/.config`; the
 * XDG Base Directory spec says a relative value is invalid and is to be ignored.
 */
export function xdgAutostartFile(env: NodeJS.ProcessEnv, homeDir: string): string {
  const configured = env.XDG_CONFIG_HOME?.trim()
  const config = configured && path.isAbsolute(configured) ? configured : path.join(homeDir, '.config')
  return path.join(config, 'autostart', `${AUTOSTART_NAME}.desktop`)
}

/** Characters that make the Desktop Entry spec require an Exec argument to be quoted. */
const RESERVED = /[ \t"'\\><~|&;$*?#()`]/

/**
 * One argument of an Exec key, per the Desktop Entry spec: quoted when it holds a reserved character, with
 * `"`, `` ` ``, `$` and `\` escaped inside the quotes; `%` written `%%` (it starts field codes); then the
 * string-value escaping applied over all of it, which doubles every backslash (so a literal backslash in a
 * quoted argument ends up as four, a literal `"` as `\\"`). Checked against GLib's launcher (`gio launch`) for
 * spaces, quotes, apostrophes, `$`, backticks and backslashes; GLib 2.74 refuses an entry whose program path holds
 * a `%` (it looks the program up before expanding `%%`; an unescaped `%` would be a field code), so such a path
 * cannot start at login under GNOME.
 */
export function quoteExecArg(arg: string): string {
  if (/[\n\r\0]/.test(arg)) throw new Error(`cannot put a path with a line break into a desktop entry: ${JSON.stringify(arg)}`)
  const quoted = arg === '' || RESERVED.test(arg) ? `"${arg.replace(/["`$\\]/g, '\\$&')}"` : arg
  return escapeValue(quoted.replaceAll('%', '%%'))
}

/** A string value of a desktop entry: backslashes doubled, control characters written as escapes. */
function escapeValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r')
}

/** The autostart entry: start `executable --hidden` at login, in the tray with no window. */
export function desktopEntry(executable: string): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.0',
    'Name=vLLM Batch Server',
    `Comment=${escapeValue('Runs vLLM on this GPU and serves the OpenAI API (including Batch) on the LAN')}`,
    `Exec=${[executable, HIDDEN_FLAG].map(quoteExecArg).join(' ')}`,
    `Icon=${AUTOSTART_NAME}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n')
}

/**
 * Writes the entry (atomically: a reader never sees half a file) or removes it (content null). Removing a file
 * that is not there is not an error.
 */
export function applyXdgAutostart(file: string, content: string | null): void {
  if (content === null) {
    fs.rmSync(file, { force: true })
    return
  }
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  try {
    fs.writeFileSync(tmp, content, { mode: 0o644 })
    fs.renameSync(tmp, file)
  } catch (err) {
    fs.rmSync(tmp, { force: true })
    throw err
  }
}
