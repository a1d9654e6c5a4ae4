// `vbs service` as a user runs it (the built command as a child process), with stand-ins for systemctl and
// loginctl on PATH that record what they are asked (there is no systemd to talk to on the build machines).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ROOT, tempDir } from '../helpers/service'
import { buildCli, vbs } from '../helpers/vbs'
import { unitFile } from '../../cli/service-unit'

beforeAll(() => {
  buildCli()
  // install refuses without the built service (out/main/headless.js): build it as npm run build does.
  if (!fs.existsSync(path.join(ROOT, 'out', 'main', 'headless.js'))) {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], { cwd: ROOT, stdio: 'inherit' })
  }
})

/** A PATH with fake systemctl and loginctl in front; what they were asked is in the log, a line per call. */
function fakeSystemd(options: { fail?: boolean } = {}): { env: Record<string, string>; calls: () => string[]; home: string } {
  const bin = tempDir('vbs-fake-systemd-')
  const log = path.join(bin, 'calls.log')
  fs.writeFileSync(
    path.join(bin, 'systemctl'),
    `#!/bin/sh\necho "systemctl $*" >> "${log}"\n` +
      (options.fail ? 'echo "Failed to connect to bus: No medium found" >&2\nexit 1\n' : '') +
      'case "$*" in *is-active*) echo active;; *is-enabled*) echo enabled;; *" status "*) echo "● vllm-batch-server.service - vLLM Batch Server";; esac\nexit 0\n',
    { mode: 0o755 },
  )
  fs.writeFileSync(path.join(bin, 'loginctl'), `#!/bin/sh\necho "loginctl $*" >> "${log}"\necho no\n`, { mode: 0o755 })
  const home = tempDir('vbs-home-')
  return {
    env: { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: home },
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []),
    home,
  }
}

describe('vbs service', () => {
  it('install --dry-run prints the unit and changes nothing; install writes and enables it; status; uninstall removes it', async () => {
    const sd = fakeSystemd()
    const unit = path.join(sd.home, '.config', 'systemd', 'user', 'vllm-batch-server.service')
    const dry = await vbs(['service', 'install', '--dry-run'], sd.env)
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain(`# ${unit}`)
    expect(dry.stdout).toContain('[Service]')
    expect(dry.stdout).toContain('# then: systemctl --user daemon-reload && systemctl --user enable --now vllm-batch-server.service')
    expect(fs.existsSync(unit)).toBe(false)
    expect(sd.calls()).toEqual([])

    const inst = await vbs(['service', 'install'], sd.env)
    expect(inst.stderr).toBe('')
    expect(inst.code).toBe(0)
    // The file is the unit for this machine: this node, this clone, the installing shell's PATH.
    expect(fs.readFileSync(unit, 'utf8')).toBe(unitFile({ system: false, node: process.execPath, root: ROOT, pathEnv: sd.env.PATH }))
    expect(sd.calls()).toEqual(['systemctl --user daemon-reload', 'systemctl --user enable --now vllm-batch-server.service', expect.stringMatching(/^loginctl show-user \S+ --property=Linger --value$/)])
    expect(inst.stdout).toMatch(/To start it at boot without a login: sudo loginctl enable-linger \S+/)

    const st = await vbs(['service', 'status', '--json'], sd.env)
    expect(st.code).toBe(0)
    expect(JSON.parse(st.stdout)).toEqual({ unit, enabled: 'enabled', active: 'active' })

    const un = await vbs(['service', 'uninstall'], sd.env)
    expect(un.code).toBe(0)
    expect(fs.existsSync(unit)).toBe(false)
    expect(sd.calls().slice(-2)).toEqual(['systemctl --user disable --now vllm-batch-server.service', 'systemctl --user daemon-reload'])
    const gone = await vbs(['service', 'status'], sd.env)
    expect(gone.code).toBe(3)
    expect(gone.stdout).toContain(`not installed: no unit at ${unit}`)
  })

  it('--system --dry-run shows the system unit; systemctl failing is exit 1; bad use is exit 2', async () => {
    const sd = fakeSystemd({ fail: true })
    const sys = await vbs(['service', 'install', '--system', '--dry-run', '--user', 'gpu'], sd.env)
    expect(sys.code).toBe(0)
    expect(sys.stdout).toContain('# /etc/systemd/system/vllm-batch-server.service')
    expect(sys.stdout).toContain('User=gpu')
    expect(sys.stdout).toContain('Environment=VBS_DATA_DIR=/var/lib/vllm-batch-server')
    expect(fs.existsSync('/etc/systemd/system/vllm-batch-server.service') && sd.calls().length > 0).toBe(false)

    const failed = await vbs(['service', 'install'], sd.env)
    expect(failed.code).toBe(1)
    expect(failed.stderr).toBe('vbs: systemctl --user daemon-reload failed (1): Failed to connect to bus: No medium found\n')

    for (const [args, message] of [
      [['service'], 'say install, status or uninstall'],
      [['service', 'restart'], "say install, status or uninstall, not 'restart'"],
      [['service', 'install', '--user', 'x'], '--user is for a system unit'],
      [['service', 'uninstall'], 'no unit at'],
    ] as const) {
      const r = await vbs([...args], fakeSystemd().env)
      expect({ args, code: r.code }).toEqual({ args, code: 2 })
      expect(r.stderr).toContain(message)
    }
  })
})
