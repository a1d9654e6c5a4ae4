import fs from 'node:fs'
import path from 'node:path'
import type { NetworkInterfaceInfo } from 'node:os'
import { describe, expect, it, vi } from 'vitest'
import { isTrustedSender, navigationDecision } from '../../main/app/navigation'
import { startFailure, startsHidden, userDataDir } from '../../main/app/launch'
import { apiUrl, dashboardLink, shareableBaseUrl } from '../../main/contract/share-links'
import { throttle, type Clock } from '../../main/app/throttle'
import { trayIconRepresentations } from '../../main/app/tray-icons'
import { TRAY_STATES } from '../../main/app/tray-menu'
import { IPC, parseConnection } from '../../preload/api'

const ORIGIN = 'http://127.0.0.1:4080'

describe('navigationDecision: what the dashboard window may open', () => {
  it("stays in the window on the service's own origin", () => {
    expect(navigationDecision('http://127.0.0.1:4080/', ORIGIN)).toBe('allow')
    expect(navigationDecision('http://127.0.0.1:4080/#key=abc', ORIGIN)).toBe('allow')
    expect(navigationDecision('http://127.0.0.1:4080/v1/files/file-1/content', ORIGIN)).toBe('allow')
  })

  it('sends http(s) pages elsewhere to the system browser', () => {
    expect(navigationDecision('https://docs.vllm.ai/en/latest/', ORIGIN)).toBe('external')
    expect(navigationDecision('http://127.0.0.1:8000/', ORIGIN)).toBe('external') // another port is another origin
    expect(navigationDecision('http://localhost:4080/', ORIGIN)).toBe('external')
  })

  it('denies every other scheme, credentials in URLs and garbage', () => {
    for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'data:text/html,hi', 'vscode://x', 'smb://host/share', 'not a url', '']) {
      expect(navigationDecision(url, ORIGIN), url).toBe('deny')
    }
    expect(navigationDecision('https://user:pass@example.com/', ORIGIN)).toBe('deny')
  })
})

describe('isTrustedSender: who gets the API key over IPC', () => {
  const frame = { origin: ORIGIN, isMainFrame: true, detached: false }
  it("answers the dashboard's main frame only", () => {
    expect(isTrustedSender(frame, ORIGIN)).toBe(true)
    expect(isTrustedSender(null, ORIGIN)).toBe(false)
    expect(isTrustedSender({ ...frame, isMainFrame: false }, ORIGIN)).toBe(false)
    expect(isTrustedSender({ ...frame, detached: true }, ORIGIN)).toBe(false)
    expect(isTrustedSender({ ...frame, origin: 'https://example.com' }, ORIGIN)).toBe(false)
    expect(isTrustedSender({ ...frame, origin: 'null' }, ORIGIN)).toBe(false)
  })
})

describe('launch', () => {
  it('starts hidden with --hidden (login on Linux and Windows) or when macOS opened it at login', () => {
    expect(startsHidden(['/opt/vbs/vllm-batch-server'])).toBe(false)
    expect(startsHidden(['/opt/vbs/vllm-batch-server', '--hidden'])).toBe(true)
    expect(startsHidden(['electron', 'out/main/index.js', '--hidden'])).toBe(true)
    expect(startsHidden(['/Applications/vLLM Batch Server.app/Contents/MacOS/vLLM Batch Server'], true)).toBe(true)
    expect(startsHidden(['x', '--hidden-not'])).toBe(false)
  })

  it("puts Electron's profile (and lock) inside an explicit data dir only", () => {
    expect(userDataDir({})).toBeNull()
    expect(userDataDir({ VBS_DATA_DIR: '  ' })).toBeNull()
    expect(userDataDir({ VBS_DATA_DIR: '/tmp/vbs-e2e' })).toBe(path.join('/tmp/vbs-e2e', 'electron'))
    expect(userDataDir({ VBS_DATA_DIR: 'rel' })).toBe(path.resolve('rel', 'electron'))
  })

  it('names a taken port and says what to do', () => {
    const err = Object.assign(new Error('listen EADDRINUSE: address already in use 0.0.0.0:4080'), { code: 'EADDRINUSE' })
    const { title, message } = startFailure(err, { host: '0.0.0.0', port: 4080 })
    expect(title).toBe('vLLM Batch Server cannot start')
    expect(message).toContain('Port 4080 on 0.0.0.0 is already in use')
    expect(message).toContain('VBS_PORT')
    expect(message).toContain('settings.json')
  })

  it('passes any other problem through in its own words', () => {
    const err = new Error('the database was written by a newer version (3); this app knows up to 2')
    expect(startFailure(err, null).message).toBe(err.message)
    expect(startFailure('weird', null).message).toBe('weird')
    const denied = Object.assign(new Error('listen EACCES: permission denied 0.0.0.0:80'), { code: 'EACCES' })
    expect(startFailure(denied, { host: '0.0.0.0', port: 80 }).message).toMatch(/^Cannot listen on 0.0.0.0:80: listen EACCES/)
  })
})

describe('links the tray copies', () => {
  const iface = (address: string, internal = false, family: 'IPv4' | 'IPv6' = 'IPv4'): NetworkInterfaceInfo =>
    ({ address, internal, family, netmask: '', mac: '', cidr: null }) as NetworkInterfaceInfo
  const interfaces = {
    lo: [iface('127.0.0.1', true)],
    eth0: [iface('fe80::1', false, 'IPv6'), iface('192.168.1.20')],
    virbr0: [iface('169.254.3.4')],
  }

  it('uses the LAN address when the service listens on every interface', () => {
    expect(shareableBaseUrl('http://127.0.0.1:4080', '0.0.0.0', interfaces)).toBe('http://192.168.1.20:4080')
    expect(shareableBaseUrl('http://127.0.0.1:4080', '::', interfaces)).toBe('http://192.168.1.20:4080')
  })

  it('keeps the listening address otherwise, or without a LAN interface', () => {
    expect(shareableBaseUrl('http://127.0.0.1:4080', '127.0.0.1', interfaces)).toBe('http://127.0.0.1:4080')
    expect(shareableBaseUrl('http://127.0.0.1:4080', '0.0.0.0', { lo: interfaces.lo, virbr0: interfaces.virbr0 })).toBe('http://127.0.0.1:4080')
  })

  it('API URL is the base URL an OpenAI SDK takes; the dashboard link carries the key in the fragment', () => {
    expect(apiUrl('http://192.168.1.20:4080')).toBe('http://192.168.1.20:4080/v1')
    expect(apiUrl('http://192.168.1.20:4080/')).toBe('http://192.168.1.20:4080/v1')
    expect(dashboardLink('http://192.168.1.20:4080', 'vbs-abc+/=')).toBe('http://192.168.1.20:4080/#key=vbs-abc%2B%2F%3D')
  })
})

describe('throttle', () => {
  function fakeClock(): Clock & { advance(ms: number): void } {
    let now = 0
    let timers: { at: number; fn: () => void; id: number }[] = []
    let next = 1
    return {
      now: () => now,
      setTimeout: (fn, ms) => {
        const id = next++
        timers.push({ at: now + ms, fn, id })
        return id
      },
      clearTimeout: (id) => {
        timers = timers.filter((t) => t.id !== id)
      },
      advance(ms) {
        now += ms
        for (const t of timers.filter((t) => t.at <= now)) {
          timers = timers.filter((x) => x !== t)
          t.fn()
        }
      },
    }
  }

  it('runs the first call at once and collapses a burst into one trailing run', () => {
    const clock = fakeClock()
    const fn = vi.fn()
    const t = throttle(fn, 500, clock)
    t()
    expect(fn).toHaveBeenCalledTimes(1)
    for (let i = 0; i < 10; i++) {
      clock.advance(20)
      t()
    }
    expect(fn).toHaveBeenCalledTimes(1)
    clock.advance(500)
    expect(fn).toHaveBeenCalledTimes(2)
    clock.advance(2000)
    expect(fn).toHaveBeenCalledTimes(2)
    t()
    expect(fn).toHaveBeenCalledTimes(3)
  })

  it('never runs more than twice a second under a steady stream of calls', () => {
    const clock = fakeClock()
    const fn = vi.fn()
    const t = throttle(fn, 500, clock)
    for (let i = 0; i < 100; i++) {
      t()
      clock.advance(50)
    }
    expect(fn.mock.calls.length).toBeGreaterThanOrEqual(10)
    expect(fn.mock.calls.length).toBeLessThanOrEqual(11)
  })

  it('cancel drops the pending run', () => {
    const clock = fakeClock()
    const fn = vi.fn()
    const t = throttle(fn, 500, clock)
    t()
    t()
    t.cancel()
    clock.advance(1000)
    expect(fn).toHaveBeenCalledTimes(1)
  })
})

describe('tray icons', () => {
  const dir = path.resolve(__dirname, '../../resources/tray')

  it('exist for every state, 32x32 and 64x64 PNGs', () => {
    for (const state of TRAY_STATES) {
      for (const [file, size] of [[`${state}.png`, 32], [`${state}@2x.png`, 64]] as const) {
        const png = fs.readFileSync(path.join(dir, file))
        expect(png.subarray(0, 8).toString('hex'), file).toBe('89504e470d0a1a0a')
        expect([png.readUInt32BE(16), png.readUInt32BE(20)], file).toEqual([size, size])
      }
    }
  })

  it('are distinct pictures', () => {
    const bytes = TRAY_STATES.map((s) => fs.readFileSync(path.join(dir, `${s}.png`)).toString('base64'))
    expect(new Set(bytes).size).toBe(TRAY_STATES.length)
  })

  it('are 1x/2x on Linux, 2x/4x where the tray lays out at 16 points (macOS, Windows)', () => {
    expect(trayIconRepresentations('/r', 'busy', 'linux')).toEqual([
      { file: path.join('/r', 'busy.png'), scaleFactor: 1 },
      { file: path.join('/r', 'busy@2x.png'), scaleFactor: 2 },
    ])
    expect(trayIconRepresentations('/r', 'hot', 'darwin').map((r) => r.scaleFactor)).toEqual([2, 4])
    expect(trayIconRepresentations('/r', 'hot', 'win32').map((r) => r.scaleFactor)).toEqual([2, 4])
  })
})

describe('preload contract', () => {
  it('reads the connection the main process answers, and nothing on a refusal', () => {
    expect(parseConnection({ serverUrl: ORIGIN, apiKey: 'k' })).toEqual({ serverUrl: ORIGIN, apiKey: 'k' })
    expect(parseConnection(null)).toEqual({ serverUrl: '', apiKey: '' })
    expect(parseConnection({ serverUrl: 1, apiKey: ['k'] })).toEqual({ serverUrl: '', apiKey: '' })
  })

  it('uses the channel names the main process handles', () => {
    expect(IPC).toEqual({ connection: 'vbs:connection', openDataFolder: 'vbs:open-data-folder', openLogs: 'vbs:open-logs' })
  })

  it('never passes the key on a command line', () => {
    const root = path.resolve(__dirname, '../..')
    for (const file of ['main/app/window.ts', 'preload/index.ts', 'preload/api.ts']) {
      expect(fs.readFileSync(path.join(root, file), 'utf8'), file).not.toMatch(/additionalArguments\s*:/)
    }
  })
})

describe('layering', () => {
  const root = path.resolve(__dirname, '../..')
  const PURE = [
    'main/app/autostart.ts',
    'main/app/launch.ts',
    'main/contract/share-links.ts',
    'main/app/navigation.ts',
    'main/app/throttle.ts',
    'main/app/tray-icons.ts',
    'main/app/tray-menu.ts',
    'main/app/tray-snapshot.ts',
    'preload/api.ts',
  ]

  /** Relative imports that are loaded at run time (type-only imports are erased). */
  function runtimeImports(file: string): { specifier: string; typeOnly: boolean }[] {
    const text = fs.readFileSync(path.join(root, file), 'utf8')
    return [...text.matchAll(/^import\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)].map((m) => ({ specifier: m[2], typeOnly: Boolean(m[1]) }))
  }

  it('the unit-tested shell modules import no Electron, not even through what they import', () => {
    const seen = new Set<string>()
    const visit = (file: string): void => {
      if (seen.has(file)) return
      seen.add(file)
      for (const { specifier, typeOnly } of runtimeImports(file)) {
        expect(specifier === 'electron' || specifier.startsWith('electron/'), `${file} imports ${specifier}`).toBe(false)
        if (typeOnly || !specifier.startsWith('.')) continue
        const target = path.relative(root, path.resolve(path.dirname(path.join(root, file)), specifier))
        visit(fs.existsSync(path.join(root, `${target}.ts`)) ? `${target}.ts` : path.join(target, 'index.ts'))
      }
    }
    for (const file of PURE) visit(file)
  })

  it("only main/app/ and preload/ import 'electron'", () => {
    const offenders: string[] = []
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const rel = path.join(dir, entry.name)
        if (entry.isDirectory()) walk(rel)
        else if (/\.tsx?$/.test(entry.name) && /from\s+'electron'/.test(fs.readFileSync(path.join(root, rel), 'utf8'))) offenders.push(rel)
      }
    }
    walk('main')
    walk('renderer/src')
    expect(offenders.filter((f) => !f.startsWith(path.join('main', 'app')))).toEqual([])
  })
})
