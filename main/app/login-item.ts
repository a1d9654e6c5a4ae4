import os from 'node:os'
import { app } from 'electron'
import { applyXdgAutostart, autostartPlan } from './autostart'

/**
 * Carries out start at login (autostart.ts decides how): app.setLoginItemSettings on macOS and Windows, the XDG
 * autostart entry on Linux. Throws when the entry cannot be written.
 */
export function applyStartAtLogin(enabled: boolean): string {
  const plan = autostartPlan(enabled, {
    platform: process.platform,
    packaged: app.isPackaged,
    env: process.env,
    homeDir: os.homedir(),
    execPath: process.execPath,
  })
  switch (plan.kind) {
    case 'login-item':
      app.setLoginItemSettings(plan.settings)
      return `login item ${enabled ? 'set' : 'removed'}`
    case 'xdg':
      applyXdgAutostart(plan.file, plan.content)
      return `${plan.file} ${plan.content === null ? 'removed' : 'written'}`
    case 'none':
      return `start at login not changed: ${plan.reason}`
  }
}

/** Whether macOS started the app as a login item (it passes no --hidden there). */
export function openedAtLogin(): boolean {
  return process.platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin
}
