import fs from 'node:fs'
import path from 'node:path'

const ROOT = path.resolve(__dirname, '..', '..')

/**
 * The arguments `npm run serve` gives node (its flags and the entry script), read from package.json so tests
 * and benchmarks start the service exactly as users do.
 */
export function serveArgs(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  const [node, ...args] = pkg.scripts.serve.trim().split(/\s+/)
  if (node !== 'node') throw new Error(`the serve script must start with node, got: ${pkg.scripts.serve}`)
  return args.map((a) => (a.endsWith('.ts') ? path.join(ROOT, a) : a))
}
