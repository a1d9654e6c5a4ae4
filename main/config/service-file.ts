import fs from 'node:fs'
import path from 'node:path'
import { SERVICE_FILE_NAME, type ServiceFile } from '../contract/service-file'

export function serviceFilePath(dataDir: string): string {
  return path.join(dataDir, SERVICE_FILE_NAME)
}

/** Says where this service listens (see contract/service-file.ts); written whole or not at all. */
export function writeServiceFile(dataDir: string, info: ServiceFile): void {
  const file = serviceFilePath(dataDir)
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, `${JSON.stringify(info)}\n`, { mode: 0o600 })
  fs.renameSync(tmp, file)
}

/** Removes the file if this process wrote it (another service may have started on the same data dir since). */
export function removeServiceFile(dataDir: string, pid = process.pid): void {
  const file = serviceFilePath(dataDir)
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ServiceFile>
    if (info.pid === pid) fs.rmSync(file, { force: true })
  } catch {
    // gone already, or not ours to judge
  }
}
