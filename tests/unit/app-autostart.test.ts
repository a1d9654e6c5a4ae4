import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  applyXdgAutostart,
  autostartPlan,
  desktopEntry,
  linuxExecutable,
  quoteExecArg,
  xdgAutostartFile,
  type AutostartContext,
} from '../../main/app/autostart'

/**
 * Reads an Exec value back the way the Desktop Entry spec says a launcher does (and GLib's g_key_file +
 * g_shell_parse_argv do): first the string escapes (\\ \s \n \t \r), then the argument quoting, then %% -> %.
 */
function parseExec(value: string): string[] {
  let unescaped = ''
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== '\\') {
      unescaped += value[i]
      continue
    }
    const next = value[++i]
    const map: Record<string, string> = { '\\': '\\', s: ' ', n: '\n', t: '\t', r: '\r' }
    if (!(next in map)) throw new Error(`invalid string escape \\${next} in ${value}`)
    unescaped += map[next]
  }
  const args: string[] = []
  let i = 0
  while (i < unescaped.length) {
    if (unescaped[i] === ' ') {
      i++
      continue
    }
    let arg = ''
    if (unescaped[i] === '"') {
      i++
      while (unescaped[i] !== '"') {
        if (i >= unescaped.length) throw new Error(`unterminated quote in ${value}`)
        if (unescaped[i] === '\\') {
          const next = unescaped[i + 1]
          if (!'"`$\\'.includes(next)) throw new Error(`invalid quoted escape \\${next} in ${value}`)
          arg += next
          i += 2
        } else arg += unescaped[i++]
      }
      i++
    } else {
      while (i < unescaped.length && unescaped[i] !== ' ') {
        if ('"\'\\><~|&;$*?#()`\t'.includes(unescaped[i])) throw new Error(`reserved character ${unescaped[i]} unquoted in ${value}`)
        arg += unescaped[i++]
      }
    }
    args.push(arg.replace(/%%/g, '%'))
  }
  return args
}

function keys(entry: string): Record<string, string> {
  const lines = entry.split('\n').filter((l) => l !== '')
  expect(lines[0]).toBe('[Desktop Entry]')
  return Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}

describe('desktopEntry', () => {
  it('starts the executable with --hidden, as an application named vLLM Batch Server', () => {
    const entry = desktopEntry('/opt/vllm-batch-server/vllm-batch-server')
    expect(entry.endsWith('\n')).toBe(true)
    expect(keys(entry)).toEqual({
      Type: 'Application',
      Version: '1.0',
      Name: 'vLLM Batch Server',
      Comment: 'Runs vLLM on this GPU and serves the OpenAI API (including Batch) on the LAN',
      Exec: '/opt/vllm-batch-server/vllm-batch-server --hidden',
      Icon: 'vllm-batch-server',
      Terminal: 'false',
      'X-GNOME-Autostart-enabled': 'true',
    })
  })

  it('quotes a path with spaces (the deb installs under /opt/<productName>)', () => {
    const exec = keys(desktopEntry('/opt/vLLM Batch Server/vllm-batch-server')).Exec
    expect(exec).toBe('"/opt/vLLM Batch Server/vllm-batch-server" --hidden')
    expect(parseExec(exec)).toEqual(['/opt/vLLM Batch Server/vllm-batch-server', '--hidden'])
  })

  it('escapes quotes, backslashes, dollars, backticks and percent signs as the spec asks', () => {
    const nasty = `/home/o'brien/My "Apps"/a\\b/$HOME/\`x\`/100%/vbs.AppImage`
    const exec = keys(desktopEntry(nasty)).Exec
    expect(exec).toBe(`"/home/o'brien/My \\\\"Apps\\\\"/a\\\\\\\\b/\\\\$HOME/\\\\\`x\\\\\`/100%%/vbs.AppImage" --hidden`)
    expect(parseExec(exec)).toEqual([nasty, '--hidden'])
  })

  it('round-trips every reserved character', () => {
    for (const ch of ` \t"'\\><~|&;$*?#()\`%=`) {
      const p = `/tmp/a${ch}b/app`
      expect(parseExec(quoteExecArg(p)), JSON.stringify(ch)).toEqual([p])
    }
    expect(quoteExecArg('/usr/bin/plain-path_1.2')).toBe('/usr/bin/plain-path_1.2')
  })

  it('refuses a path with a line break rather than write a broken entry', () => {
    expect(() => desktopEntry('/tmp/a\nExec=evil')).toThrow(/line break/)
  })
})

describe('where the entry goes and what it starts', () => {
  it('is ~/.config/autostart/vllm-batch-server.desktop, or under $XDG_CONFIG_HOME', () => {
    expect(xdgAutostartFile({}, '/home/ann')).toBe('/home/ann/.config/autostart/vllm-batch-server.desktop')
    expect(xdgAutostartFile({ XDG_CONFIG_HOME: '/srv/cfg' }, '/home/ann')).toBe('/srv/cfg/autostart/vllm-batch-server.desktop')
    // The XDG Base Directory spec: a relative (or empty) value is invalid and ignored.
    expect(xdgAutostartFile({ XDG_CONFIG_HOME: 'cfg' }, '/home/ann')).toBe('/home/ann/.config/autostart/vllm-batch-server.desktop')
    expect(xdgAutostartFile({ XDG_CONFIG_HOME: '' }, '/home/ann')).toBe('/home/ann/.config/autostart/vllm-batch-server.desktop')
  })

  it('starts the AppImage itself ($APPIMAGE), not its temporary mount', () => {
    const mount = '/tmp/.mount_vLLMBaXYZ/vllm-batch-server'
    expect(linuxExecutable({ APPIMAGE: '/home/ann/Apps/vLLM Batch Server-0.1.0.AppImage' }, mount)).toBe('/home/ann/Apps/vLLM Batch Server-0.1.0.AppImage')
    expect(linuxExecutable({}, '/opt/vLLM Batch Server/vllm-batch-server')).toBe('/opt/vLLM Batch Server/vllm-batch-server')
    expect(linuxExecutable({ APPIMAGE: 'relative.AppImage' }, mount)).toBe(mount)
  })
})

describe('autostartPlan', () => {
  const ctx = (over: Partial<AutostartContext> = {}): AutostartContext => ({
    platform: 'linux',
    packaged: true,
    env: {},
    homeDir: '/home/ann',
    execPath: '/opt/vLLM Batch Server/vllm-batch-server',
    ...over,
  })

  it('Linux: writes the XDG entry when on, removes it when off', () => {
    const on = autostartPlan(true, ctx({ env: { APPIMAGE: '/home/ann/vbs.AppImage', XDG_CONFIG_HOME: '/home/ann/cfg' } }))
    expect(on).toEqual({ kind: 'xdg', file: '/home/ann/cfg/autostart/vllm-batch-server.desktop', content: desktopEntry('/home/ann/vbs.AppImage') })
    expect(autostartPlan(false, ctx())).toEqual({ kind: 'xdg', file: '/home/ann/.config/autostart/vllm-batch-server.desktop', content: null })
  })

  it('macOS and Windows: the login item, with --hidden', () => {
    for (const platform of ['darwin', 'win32'] as const) {
      expect(autostartPlan(true, ctx({ platform }))).toEqual({ kind: 'login-item', settings: { openAtLogin: true, args: ['--hidden'] } })
      expect(autostartPlan(false, ctx({ platform }))).toEqual({ kind: 'login-item', settings: { openAtLogin: false, args: ['--hidden'] } })
    }
  })

  it('a development run registers nothing (its executable is the bare Electron binary)', () => {
    expect(autostartPlan(true, ctx({ packaged: false }))).toMatchObject({ kind: 'none' })
    expect(autostartPlan(true, ctx({ packaged: false, platform: 'win32' }))).toMatchObject({ kind: 'none' })
  })

  it('other platforms: nothing, with the reason', () => {
    expect(autostartPlan(true, ctx({ platform: 'aix' }))).toEqual({ kind: 'none', reason: 'start at login is not supported on aix' })
  })
})

describe('applyXdgAutostart on disk', () => {
  let home: string
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'vbs-autostart-'))
  })
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }))

  it('creates the autostart folder and the entry, replaces it, and removes it', () => {
    const env = { XDG_CONFIG_HOME: path.join(home, 'config dir') }
    const on = autostartPlan(true, { platform: 'linux', packaged: true, env, homeDir: home, execPath: '/opt/a b/app' })
    if (on.kind !== 'xdg') throw new Error('expected an xdg plan')
    applyXdgAutostart(on.file, on.content)
    expect(on.file).toBe(path.join(home, 'config dir', 'autostart', 'vllm-batch-server.desktop'))
    expect(fs.readFileSync(on.file, 'utf8')).toBe(desktopEntry('/opt/a b/app'))

    // Turned on again with a moved AppImage: the entry follows, and no temporary file is left behind.
    const moved = autostartPlan(true, { platform: 'linux', packaged: true, env: { ...env, APPIMAGE: '/new/vbs.AppImage' }, homeDir: home, execPath: '/x' })
    if (moved.kind !== 'xdg') throw new Error('expected an xdg plan')
    applyXdgAutostart(moved.file, moved.content)
    expect(keys(fs.readFileSync(moved.file, 'utf8')).Exec).toBe('/new/vbs.AppImage --hidden')
    expect(fs.readdirSync(path.dirname(moved.file))).toEqual(['vllm-batch-server.desktop'])

    const off = autostartPlan(false, { platform: 'linux', packaged: true, env, homeDir: home, execPath: '/x' })
    if (off.kind !== 'xdg') throw new Error('expected an xdg plan')
    applyXdgAutostart(off.file, off.content)
    expect(fs.existsSync(off.file)).toBe(false)
    // Off again: nothing there to remove is fine.
    expect(() => applyXdgAutostart(off.file, off.content)).not.toThrow()
  })

  it('leaves the other autostart entries alone', () => {
    const dir = path.join(home, '.config', 'autostart')
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, 'other.desktop'), '[Desktop Entry]\n')
    const file = xdgAutostartFile({}, home)
    applyXdgAutostart(file, desktopEntry('/opt/app'))
    applyXdgAutostart(file, null)
    expect(fs.readdirSync(dir)).toEqual(['other.desktop'])
  })
})
