import fs from 'node:fs'
import path from 'node:path'

const ROOT = path.resolve(__dirname, '..', '..')

/** The built entry `npm run serve` runs, and its source, which tests run instead (through tsx). */
const BUILT_ENTRY = 'out/main/headless.js'
const SOURCE_ENTRY = 'main/headless.ts'

/**
 * The arguments `npm run serve` gives node (its flags and the entry script), read from package.json so tests
 * and benchmarks start the service as users do. Users run the build (out/main/headless.js, made by npm run
 * build, or by npm run serve when missing); tests run the same entry from its source, so a test never runs a
 * build older than the code it tests.
 */
export function serveArgs(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  const [node, ...args] = pkg.scripts.serve.trim().split(/\s+/)
  if (node !== 'node') throw new Error(`the serve script must start with node, got: ${pkg.scripts.serve}`)
  if (args.at(-1) !== BUILT_ENTRY) throw new Error(`the serve script must end with ${BUILT_ENTRY}, got: ${pkg.scripts.serve}`)
  return [...args.slice(0, -1), '--import', 'tsx', path.join(ROOT, SOURCE_ENTRY)]
}
