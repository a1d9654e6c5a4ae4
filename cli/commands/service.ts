import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CliError, EXIT, usageError } from '../exit-codes'
import type { Command, CommandContext } from '../command'
import { SYSTEM_DATA_DIR, UNIT_NAME, unitFile, unitPath } from '../service-unit'

/** The app's folder: out/cli/vbs.js is two levels below it. */
const appRoot = (): string => path.resolve(__dirname, '..', '..')

const ACTIONS = ['install', 'status', 'uninstall'] as const

/** Runs systemctl (with --user for a user unit); its failure ends the command with exit 1 and its words. */
function systemctl(system: boolean, args: string[], env: NodeJS.ProcessEnv): void {
  const argv = [...(system ? [] : ['--user']), ...args]
  const r = spawnSync('systemctl', argv, { env, encoding: 'utf8' })
  if (r.error) throw new CliError(`cannot run systemctl (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): vbs service needs systemd`, EXIT.jobFailed)
  if (r.status !== 0) throw new CliError(`systemctl ${argv.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`, EXIT.jobFailed)
}

function lingerAdvice(user: string, env: NodeJS.ProcessEnv): string | null {
  try {
    const value = execFileSync('loginctl', ['show-user', user, '--property=Linger', '--value'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    if (value === 'yes') return null
  } catch {
    // no logind, or the user has no session yet: give the advice
  }
  return `A user unit runs while ${user} is logged in. To start it at boot without a login: sudo loginctl enable-linger ${user}`
}

function install(ctx: CommandContext, system: boolean, dryRun: boolean): number {
  const { out, env } = ctx
  const root = appRoot()
  const me = os.userInfo().username
  const user = ctx.args.values.get('user') ?? (system ? (env.SUDO_USER ?? me) : me)
  if (ctx.args.values.has('user') && !system) throw usageError('vbs service install: --user is for a system unit (--system); a user unit runs as you')
  const built = fs.existsSync(path.join(root, 'out', 'main', 'headless.js'))
  if (!built && !dryRun) throw usageError(`vbs service install: the service is not built in ${root}: run npm run build there first (npm run serve also builds it)`)
  if (system && !dryRun && process.getuid?.() !== 0) throw usageError('vbs service install --system writes /etc/systemd/system: run it with sudo (or install a user unit without --system)')
  const file = unitPath(system, env, os.homedir())
  const text = unitFile({ system, node: process.execPath, root, user, pathEnv: env.PATH ?? '/usr/local/bin:/usr/bin:/bin' })
  const scope = system ? '' : ' --user'
  const commands = [`systemctl${scope} daemon-reload`, `systemctl${scope} enable --now ${UNIT_NAME}`]
  if (dryRun) {
    out.say(`# ${file}${built ? '' : `  (not built yet: run npm run build in ${root} before installing)`}`)
    out.say(text)
    out.say(`# then: ${commands.join(' && ')}`)
    out.say('# (dry run: nothing was written or started)')
    return EXIT.ok
  }
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, text, { mode: 0o644 })
  fs.renameSync(tmp, file)
  out.say(`wrote ${file}`)
  systemctl(system, ['daemon-reload'], env)
  systemctl(system, ['enable', '--now', UNIT_NAME], env)
  out.say(`enabled and started ${UNIT_NAME}${system ? ` (as ${user}, data in ${SYSTEM_DATA_DIR})` : ''}; it restarts on failure`)
  if (system && user === 'root') out.say('Note: it runs as root; give --user NAME to run it as someone else.')
  if (!system) {
    const advice = lingerAdvice(user, env)
    if (advice) out.say(advice)
  }
  out.say(`Its log: journalctl${scope} -u ${UNIT_NAME}; its state: vbs service status${system ? ' --system' : ''}`)
  return EXIT.ok
}

function uninstall(ctx: CommandContext, system: boolean, dryRun: boolean): number {
  const { out, env } = ctx
  const file = unitPath(system, env, os.homedir())
  if (!fs.existsSync(file)) throw usageError(`vbs service uninstall: no unit at ${file}${system ? '' : ' (a system unit? add --system)'}`)
  const scope = system ? '' : ' --user'
  if (dryRun) {
    out.say(`# would run: systemctl${scope} disable --now ${UNIT_NAME}, remove ${file}, systemctl${scope} daemon-reload (dry run: nothing changed)`)
    return EXIT.ok
  }
  if (system && process.getuid?.() !== 0) throw usageError('vbs service uninstall --system changes /etc/systemd/system: run it with sudo')
  systemctl(system, ['disable', '--now', UNIT_NAME], env)
  fs.rmSync(file, { force: true })
  systemctl(system, ['daemon-reload'], env)
  out.say(`stopped and removed ${UNIT_NAME} (${file}); the data dir is kept`)
  return EXIT.ok
}

function status(ctx: CommandContext, system: boolean): number {
  const { out, env } = ctx
  const file = unitPath(system, env, os.homedir())
  if (!fs.existsSync(file)) {
    out.say(`not installed: no unit at ${file}${system ? '' : ' (a system unit? add --system)'}; vbs service install sets it up`)
    return EXIT.unreachable
  }
  const scope = system ? [] : ['--user']
  const ask = (what: string): string => spawnSync('systemctl', [...scope, what, UNIT_NAME], { env, encoding: 'utf8' }).stdout?.trim() || 'unknown'
  const active = ask('is-active')
  out.result({ unit: file, enabled: ask('is-enabled'), active }, () => `${UNIT_NAME}: ${active}, ${ask('is-enabled')} (${file})`)
  const detail = spawnSync('systemctl', [...scope, 'status', '--no-pager', '--lines=5', UNIT_NAME], { env, encoding: 'utf8' })
  if (!ctx.out.json && detail.stdout) out.say(detail.stdout.trimEnd())
  return active === 'active' ? EXIT.ok : EXIT.unreachable
}

export const service: Command = {
  name: 'service',
  usage: 'install|status|uninstall [--system] [--dry-run] [--user NAME]',
  summary: 'run the headless service under systemd: started at boot (or login), restarted on failure',
  options: {
    system: { kind: 'switch', help: 'a system unit (starts at boot, data in /var/lib/vllm-batch-server; needs sudo) instead of your user unit' },
    'dry-run': { kind: 'switch', short: 'n', help: 'print the unit and the commands, change nothing' },
    user: { kind: 'value', value: 'NAME', help: 'with --system: the user it runs as (default: the one who ran sudo)' },
    json: { kind: 'switch', help: 'status as JSON' },
  },
  details:
    'Exit codes: 0 done (status: running), 1 systemctl failed, 2 usage (no build, not root for --system), 3 (status) not installed or not running.',
  run: async (ctx) => {
    const [action, ...rest] = ctx.args.positionals
    if (!action || !(ACTIONS as readonly string[]).includes(action)) throw usageError(`vbs service: say install, status or uninstall${action ? `, not '${action}'` : ''}`)
    if (rest.length > 0) throw usageError(`vbs service ${action}: unexpected '${rest[0]}'`)
    const system = ctx.args.switches.has('system')
    const dryRun = ctx.args.switches.has('dry-run')
    if (action === 'install') return install(ctx, system, dryRun)
    if (action === 'uninstall') return uninstall(ctx, system, dryRun)
    return status(ctx, system)
  },
}
