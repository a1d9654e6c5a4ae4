// The desktop app end to end, in real Electron driven by Playwright: the window shows the dashboard served by the
// service, the preload hands over the key (and not on a command line), the tray exists, closing hides, a second
// launch shows the window, and Quit stops the service cleanly.
//
// Skipped where no Electron binary is installed (ELECTRON_SKIP_BINARY_DOWNLOAD=1, as on the build machine) or on
// Linux without a display (run it under xvfb-run there). Needs `npm run build` first (it starts out/main/index.js).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { _electron, type ElectronApplication, type Page } from 'playwright-core'

const ROOT = path.resolve(__dirname, '..', '..')
const MAIN = path.join(ROOT, 'out', 'main', 'index.js')

/**
 * The Electron executable, or null. Not `require('electron')`: since Electron 3x that module DOWNLOADS the binary
 * when it is missing; its path.txt and dist/ are what an installed binary leaves behind.
 */
function electronBinary(): string | null {
  let dir: string
  try {
    dir = path.dirname(createRequire(__filename).resolve('electron/package.json'))
  } catch {
    return null
  }
  const pathFile = path.join(dir, 'path.txt')
  if (!fs.existsSync(pathFile)) return null
  const relative = fs.readFileSync(pathFile, 'utf8').trim()
  const bin = process.env.ELECTRON_OVERRIDE_DIST_PATH
    ? path.join(process.env.ELECTRON_OVERRIDE_DIST_PATH, relative)
    : path.join(dir, 'dist', relative)
  return fs.existsSync(bin) ? bin : null
}

const ELECTRON = electronBinary()
const HAS_DISPLAY = process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY)
const CAN_RUN = ELECTRON !== null && HAS_DISPLAY

interface ShellState {
  tray: { state: string; tooltip: string; menu: string } | null
  windowCreated: boolean
}

describe.skipIf(!CAN_RUN)('the Electron app', () => {
  let dataDir: string
  let env: Record<string, string>
  let app: ElectronApplication
  let page: Page

  beforeAll(async () => {
    if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`)
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vbs-e2e-'))
    env = {
      ...(process.env as Record<string, string>),
      // Its own data dir, hence its own Electron profile and single-instance lock (see main/app/launch.ts).
      VBS_DATA_DIR: dataDir,
      VBS_HOST: '127.0.0.1',
      VBS_PORT: '0',
      VBS_MODELS: path.join(ROOT, 'tests', 'fixtures', 'models.yaml'),
      VBS_VLLM_BIN: path.join(ROOT, 'tests', 'fixtures', 'fake-vllm'),
      PATH: `${path.join(ROOT, 'tests', 'fixtures', 'bin')}${path.delimiter}${process.env.PATH ?? ''}`,
      // Never the user's own autostart folder (a development run writes nothing there anyway).
      XDG_CONFIG_HOME: path.join(dataDir, 'config'),
      VBS_E2E: '1',
    }
    app = await _electron.launch({ executablePath: ELECTRON!, args: [MAIN], cwd: ROOT, env, timeout: 90_000 })
    page = await app.firstWindow({ timeout: 90_000 })
    await page.waitForLoadState('domcontentloaded')
  })

  afterAll(async () => {
    await app?.close().catch(() => undefined)
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
  })

  const shell = (): Promise<ShellState> =>
    app.evaluate(() => {
      const s = (globalThis as { __vbsShell?: { tray(): ShellState['tray']; windowCreated(): boolean } }).__vbsShell
      return { tray: s?.tray() ?? null, windowCreated: s?.windowCreated() ?? false }
    })

  const windowVisible = (): Promise<boolean> => app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]?.isVisible() ?? false)

  it('shows the dashboard from the service, with the key from the preload', async () => {
    expect(await page.title()).toBe('vLLM Batch Server')
    const origin = new URL(page.url()).origin
    expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const vbs = await page.evaluate(() => {
      const v = (window as unknown as { vbs?: Record<string, unknown> }).vbs
      return v
        ? { serverUrl: v.serverUrl, apiKey: v.apiKey, openDataFolder: typeof v.openDataFolder, openLogs: typeof v.openLogs, ipc: 'ipcRenderer' in v }
        : null
    })
    const key = fs.readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim()
    expect(vbs).toEqual({ serverUrl: origin, apiKey: key, openDataFolder: 'function', openLogs: 'function', ipc: false })
    expect(await windowVisible()).toBe(true)
  })

  it('keeps the API key off every process command line', async () => {
    if (process.platform !== 'linux') return
    const key = fs.readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim()
    const pids = await app.evaluate(({ app: electronApp }) => electronApp.getAppMetrics().map((m) => m.pid))
    expect(pids.length).toBeGreaterThan(1)
    for (const pid of pids) {
      let cmdline: string
      try {
        cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      } catch {
        continue // ended meanwhile
      }
      expect(cmdline.includes(key), `pid ${pid}: ${cmdline.replaceAll('\0', ' ')}`).toBe(false)
    }
  })

  it('has a tray icon that follows the service', async () => {
    const state = await shell()
    expect(state.windowCreated).toBe(true)
    expect(state.tray).not.toBeNull()
    expect(['idle', 'loading', 'busy', 'hot', 'error']).toContain(state.tray!.state)
    expect(state.tray!.tooltip).toMatch(/engine|loading|ready/)
    expect(state.tray!.menu).toContain('Open dashboard')
    expect(state.tray!.menu).toContain('Quit')
  })

  it('hides the window on close and shows it again when launched a second time', async () => {
    await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]?.close())
    await expect.poll(windowVisible, { timeout: 10_000 }).toBe(false)
    expect(await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(1)

    const second = spawn(ELECTRON!, [MAIN], { cwd: ROOT, env, stdio: 'ignore' })
    const code = await new Promise<number | null>((resolve) => second.once('exit', (c) => resolve(c)))
    expect(code).toBe(0)
    await expect.poll(windowVisible, { timeout: 20_000 }).toBe(true)
  })

  it('quits cleanly: the service stops before the app exits', async () => {
    await app.close()
    const log = fs.readFileSync(path.join(dataDir, 'logs', 'service.log'), 'utf8')
    expect(log).toContain('service stopped')
  })
})
