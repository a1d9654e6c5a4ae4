import path from 'node:path'

/** The unit's name, for systemctl and the file. */
export const UNIT_NAME = 'vllm-batch-server.service'
/** The data dir of the system unit (StateDirectory: made by systemd, owned by the unit's user). */
export const SYSTEM_DATA_DIR = '/var/lib/vllm-batch-server'

/**
 * How long systemd waits after SIGTERM before it kills what is left: the service ends its requests in flight
 * (VBS_SHUTDOWN_DRAIN_MS, 5 s), stops the engine (VBS_ENGINE_STOP_GRACE_MS 20 s, then SIGKILL and
 * VBS_ENGINE_KILL_WAIT_MS 10 s), waits for the GPU's memory to come back (VBS_GPU_RELEASE_TIMEOUT_MS 30 s) and
 * closes its connections (VBS_SHUTDOWN_CLOSE_MS 5 s):
 * about 70 s with the defaults, so 120 s leaves room.
 */
export const STOP_TIMEOUT_S = 120

export interface UnitOptions {
  /** A system unit (boot, no login) instead of the user's. */
  system: boolean
  /** The node executable, absolute. */
  node: string
  /** The app's folder (where package.json and out/ are). */
  root: string
  /** The user a system unit runs as. */
  user?: string
  /** PATH for the service, so it finds vllm (often in a virtualenv) as the installing shell does. */
  pathEnv: string
}

const quote = (value: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)

/**
 * The systemd unit that runs the headless service (out/main/headless.js) with `npm run serve`'s flags. Pure:
 * the same options give the same text.
 *  - Restart=on-failure: a crash or a kill -9 brings it back (a clean stop does not).
 *  - KillMode=mixed: SIGTERM to the service only, which stops its engine's process group itself (requests in
 *    flight finish, the GPU is released); whatever is left after TimeoutStopSec is killed, engine included.
 */
export function unitFile(o: UnitOptions): string {
  const entry = path.join(o.root, 'out', 'main', 'headless.js')
  const lines = [
    '# Written by `vbs service install`; `vbs service uninstall` removes it.',
    '[Unit]',
    'Description=vLLM Batch Server (OpenAI-compatible API and batch runner, headless)',
    `Documentation=file://${path.join(o.root, 'README.md')}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    ...(o.system ? [`User=${o.user ?? 'root'}`, 'StateDirectory=vllm-batch-server', 'StateDirectoryMode=0700', `Environment=VBS_DATA_DIR=${SYSTEM_DATA_DIR}`] : []),
    `WorkingDirectory=${quote(o.root)}`,
    `Environment=${quote(`PATH=${o.pathEnv}`)}`,
    'Environment=NODE_ENV=production',
    `ExecStart=${quote(o.node)} --max-old-space-size=384 --max-semi-space-size=16 ${quote(entry)}`,
    'Restart=on-failure',
    'RestartSec=5',
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${STOP_TIMEOUT_S}`,
    '',
    '[Install]',
    `WantedBy=${o.system ? 'multi-user.target' : 'default.target'}`,
    '',
  ]
  return lines.join('\n')
}

/** Where the unit file goes: the user's systemd folder, or /etc/systemd/system. */
export function unitPath(system: boolean, env: NodeJS.ProcessEnv, home: string): string {
  if (system) return path.join('/etc/systemd/system', UNIT_NAME)
  const config = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config')
  return path.join(config, 'systemd', 'user', UNIT_NAME)
}
