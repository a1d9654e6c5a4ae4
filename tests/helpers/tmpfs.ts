import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { tempDir } from './service'

/** A tmpfs of sizeMb mounted on a fresh temp dir, or why it could not be mounted (needs root). */
export function mountSmallDisk(sizeMb: number, prefix = 'vbs-small-disk-'): string | { refused: string } {
  const dir = tempDir(prefix)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' })
    return dir
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true })
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim()
    return { refused: `mounting a ${sizeMb} MB tmpfs was refused (${stderr || (err as Error).message}); run as root to test a full disk` }
  }
}

export function unmount(dir: string): void {
  // Lazy: a descriptor the stopped service still holds (its log) must not keep the mount busy.
  execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
  fs.rmSync(dir, { recursive: true, force: true })
}
