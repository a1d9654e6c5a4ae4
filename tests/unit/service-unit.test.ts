// The systemd unit of `vbs service install`: its content, and systemd's own check of it where systemd-analyze exists.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { STOP_TIMEOUT_S, unitFile, unitPath } from '../../cli/service-unit'
import { loadSettings } from '../../main/config/settings'
import { ROOT, tempDir } from '../helpers/service'

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0

describe('the systemd unit', () => {
  const user = unitFile({ system: false, node: process.execPath, root: ROOT, pathEnv: '/home/u/.venv/bin:/usr/bin:/bin' })
  const system = unitFile({ system: true, node: process.execPath, root: ROOT, user: 'gpu', pathEnv: '/usr/bin:/bin' })

  it('runs the built headless service with npm run serve\'s flags, restarts on failure, stops with SIGTERM and time for the engine', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { serve: string } }
    const serveArgs = pkg.scripts.serve.replace(/^node /, '').replace('out/main/headless.js', path.join(ROOT, 'out', 'main', 'headless.js'))
    const lines = user.split('\n')
    expect(lines).toContain(`ExecStart=${process.execPath} ${serveArgs}`)
    expect(lines).toContain(`WorkingDirectory=${ROOT}`)
    expect(lines).toContain('Environment=PATH=/home/u/.venv/bin:/usr/bin:/bin')
    expect(lines).toEqual(expect.arrayContaining(['Restart=on-failure', 'RestartSec=5', 'KillMode=mixed', 'KillSignal=SIGTERM', `TimeoutStopSec=${STOP_TIMEOUT_S}`, 'WantedBy=default.target', 'After=network-online.target']))
    expect(user).not.toContain('User=')
    expect(user).not.toContain('VBS_DATA_DIR')
    // The stop timeout covers the service's own bounded stop with the default settings: drain, engine grace, kill, GPU release.
    const s = loadSettings({ VBS_DATA_DIR: tempDir() })
    expect(STOP_TIMEOUT_S * 1000).toBeGreaterThan(s.shutdownDrainMs + s.engineStopGraceMs + s.engineKillWaitMs + s.gpuReleaseTimeoutMs + s.shutdownCloseMs)
  })

  it('a system unit runs as a user with a dedicated data dir, started at boot', () => {
    const lines = system.split('\n')
    expect(lines).toEqual(expect.arrayContaining(['User=gpu', 'StateDirectory=vllm-batch-server', 'StateDirectoryMode=0700', 'Environment=VBS_DATA_DIR=/var/lib/vllm-batch-server', 'WantedBy=multi-user.target']))
  })

  it('quotes paths with spaces; goes to the user\'s systemd folder or /etc/systemd/system', () => {
    const spaced = unitFile({ system: false, node: '/opt/my node/bin/node', root: '/home/u/my apps/vbs', pathEnv: '/usr/bin' })
    expect(spaced).toContain('ExecStart="/opt/my node/bin/node" --max-old-space-size=384 --max-semi-space-size=16 "/home/u/my apps/vbs/out/main/headless.js"')
    expect(spaced).toContain('WorkingDirectory="/home/u/my apps/vbs"')
    expect(unitPath(false, {}, '/home/u')).toBe('/home/u/.config/systemd/user/vllm-batch-server.service')
    expect(unitPath(false, { XDG_CONFIG_HOME: '/cfg' }, '/home/u')).toBe('/cfg/systemd/user/vllm-batch-server.service')
    expect(unitPath(true, {}, '/home/u')).toBe('/etc/systemd/system/vllm-batch-server.service')
  })

  it.skipIf(!hasAnalyze)('passes systemd-analyze verify (both kinds)', () => {
    const dir = tempDir()
    // verify runs the system manager's checks; a user unit's keys are the same. It wants the units' users to exist.
    for (const [name, text] of [['user.service', user], ['system.service', system.replace('User=gpu', 'User=root')]]) {
      const file = path.join(dir, name)
      fs.writeFileSync(file, text)
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' })
      expect({ name, status: r.status, out: r.stdout + r.stderr }).toEqual({ name, status: 0, out: '' })
    }
  })
})
