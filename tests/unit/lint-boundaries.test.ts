// The layer rules of eslint.config.mjs bite: each forbidden import is reported with its rule's message, and the
// imports the layers allow pass (what `npm run lint` checks in CI over the whole tree).
import path from 'node:path'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/service'

const eslint = new ESLint({ cwd: ROOT })

/** The messages of the import rules for `code` as if it were the file at `file` (relative to the project). */
async function importProblems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) })
  return result.messages.filter((m) => /no-restricted-imports$/.test(m.ruleId ?? '')).map((m) => m.message)
}

describe('the layer rules (eslint.config.mjs)', () => {
  it('only main/app and preload import electron', async () => {
    const code = "import { app } from 'electron'\nexport const a = app\n"
    expect(await importProblems('main/batch/x.ts', code)).toEqual([expect.stringContaining('Only main/app imports electron')])
    expect(await importProblems('main/service.ts', code)).toEqual([expect.stringContaining('Only main/app imports electron')])
    expect(await importProblems('renderer/src/x.ts', code)).toEqual([expect.stringContaining('through preload only')])
    expect(await importProblems('main/app/x.ts', code)).toEqual([])
    expect(await importProblems('preload/x.ts', code)).toEqual([])
  })

  it('nothing imports main/app but the Electron entry; a folder\'s own app.ts is not main/app', async () => {
    expect(await importProblems('main/batch/x.ts', "import { Tray } from '../app/tray'\nexport const a = Tray\n")).toEqual([expect.stringContaining('Nothing imports main/app')])
    expect(await importProblems('main/service.ts', "import { Shell } from './app/shell'\nexport const a = Shell\n")).toEqual([expect.stringContaining('Nothing imports main/app')])
    expect(await importProblems('main/server/routes/x.ts', "import { Tray } from '../../app/tray'\nexport const a = Tray\n")).toEqual([expect.stringContaining('Nothing imports main/app')])
    expect(await importProblems('main/index.ts', "import { Shell } from './app/shell'\nexport const a = Shell\n")).toEqual([])
    expect(await importProblems('main/service.ts', "import { createApp } from './server/app'\nexport const a = createApp\n")).toEqual([])
    expect(await importProblems('main/server/routes/x.ts', "import { createApp } from '../app'\nexport const a = createApp\n")).toEqual([])
    expect(await importProblems('tests/integration/x.test.ts', "import { Tray } from '../../main/app/tray'\nexport const a = Tray\n")).toEqual([expect.stringContaining('main/app')])
  })

  it('main/store imports neither main/batch nor main/server, at any depth', async () => {
    expect(await importProblems('main/store/x.ts', "import { Scheduler } from '../batch/scheduler'\nexport const a = Scheduler\n")).toEqual([expect.stringContaining('main/store imports nothing of main/batch')])
    expect(await importProblems('main/store/migrations/x.ts', "import { Scheduler } from '../../batch/scheduler'\nexport const a = Scheduler\n")).toEqual([expect.stringContaining('main/store imports nothing of main/batch')])
    expect(await importProblems('main/store/x.ts', "import { createApp } from '../server/app'\nexport const a = createApp\n")).toEqual([expect.stringContaining('main/store imports nothing of main/server')])
    expect(await importProblems('main/store/x.ts', "import type { BatchStatus } from '../contract/batches'\nexport type A = BatchStatus\n")).toEqual([])
    expect(await importProblems('main/batch/x.ts', "import { openStore } from '../store'\nexport const a = openStore\n")).toEqual([])
  })

  it('the renderer imports from main/ only main/contract, values and types alike', async () => {
    expect(await importProblems('renderer/src/x.ts', "import { Scheduler } from '../../main/batch/scheduler'\nexport const a = Scheduler\n")).toEqual([expect.stringContaining('only main/contract')])
    expect(await importProblems('renderer/src/x.ts', "import type { BatchProgress } from '../../main/batch/progress'\nexport type A = BatchProgress\n")).toEqual([expect.stringContaining('only main/contract')])
    expect(await importProblems('renderer/src/x.ts', "import type { Job } from '../../main/contract/jobs'\nexport type A = Job\n")).toEqual([])
    expect(await importProblems('renderer/src/x.ts', "import { BATCH_ENDPOINTS } from '../../main/contract/batches'\nexport const a = BATCH_ENDPOINTS\n")).toEqual([])
  })

  it('main/contract imports only its own files: it runs in the browser, the CLI and the service', async () => {
    expect(await importProblems('main/contract/x.ts', "import type { EngineState } from '../engine/engine-types'\nexport type A = EngineState\n")).toEqual([expect.stringContaining('main/contract imports only its own files')])
    expect(await importProblems('main/contract/x.ts', "import fs from 'node:fs'\nexport const a = fs\n")).toEqual([expect.stringContaining('main/contract imports only its own files')])
    expect(await importProblems('main/contract/x.ts', "import type { Job } from './jobs'\nexport type A = Job\n")).toEqual([])
  })
})

describe('the CLI layer rule (eslint.config.mjs)', () => {
  it('vbs and the batch helper import from main/ only main/contract: they are clients of the HTTP API', async () => {
    expect(await importProblems('cli/x.ts', "import { openStore } from '../main/store'\nexport const a = openStore\n")).toEqual([expect.stringContaining('only main/contract')])
    expect(await importProblems('cli/commands/x.ts', "import { createApp } from '../../main/server/app'\nexport const a = createApp\n")).toEqual([expect.stringContaining('only main/contract')])
    expect(await importProblems('cli/x.ts', "import type { Settings } from '../main/config/settings'\nexport type A = Settings\n")).toEqual([expect.stringContaining('only main/contract')])
    expect(await importProblems('lib/x.ts', "import { Service } from '../main/service'\nexport const a = Service\n")).toEqual([expect.stringContaining('only main/contract')])
    expect(await importProblems('cli/x.ts', "import type { Job } from '../main/contract/jobs'\nexport type A = Job\n")).toEqual([])
    expect(await importProblems('cli/x.ts', "import fs from 'node:fs'\nexport const a = fs\n")).toEqual([])
  })
})
