import fs from 'node:fs'
import path from 'node:path'

/**
 * The app's own folder (where package.json, models.yaml and out/ are): two levels up from this module both
 * in the sources (main/config/) and in the build (out/main/, which bundles this file).
 */
export function appRoot(): string {
  const candidates = [path.resolve(__dirname, '..', '..'), path.resolve(__dirname, '..')]
  return candidates.find((c) => fs.existsSync(path.join(c, 'package.json'))) ?? candidates[0]
}

/** The dashboard build (electron-vite's renderer output). */
export function dashboardDir(): string {
  return path.join(appRoot(), 'out', 'renderer')
}
