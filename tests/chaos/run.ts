// `npm run test:chaos [-- --long] [vitest args]`: the chaos suite alone. `npm test` runs it too, in its CI
// size; --long makes every test bigger (more kills, a longer job, a bigger disk to fill) for a run by hand.
import { spawnSync } from 'node:child_process'
import path from 'node:path'

const args = process.argv.slice(2)
const long = args.includes('--long')
const rest = args.filter((a) => a !== '--long')
const root = path.resolve(__dirname, '..', '..')
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs')
const run = spawnSync(process.execPath, [vitest, 'run', ...(rest.length > 0 ? rest : ['tests/chaos'])], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CHAOS_LONG: long ? '1' : '0' },
})
process.exit(run.status ?? 1)
