import fs from 'node:fs'
import path from 'node:path'

// Summaries of the .cpuprofile files a benchmark's --cpu-prof writes: self time by function and by package.

const ROOT = path.resolve(__dirname, '..', '..')
const f = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a')

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

/** Self time by function (and by file) of every .cpuprofile in dir. */
export function summarizeProfiles(dir: string): void {
  let names: string[]
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))
  } catch {
    return
  }
  for (const name of names.sort()) {
    const p = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as Profile
    const byNode = new Map<number, number>()
    for (let i = 0; i < p.samples.length; i++) byNode.set(p.samples[i], (byNode.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
    const byFn = new Map<string, number>()
    const byFile = new Map<string, number>()
    let total = 0
    for (const node of p.nodes) {
      const us = byNode.get(node.id) ?? 0
      if (us === 0) continue
      total += us
      const url = node.callFrame.url.replace(`file://${ROOT}/`, '').replace(/^.*node_modules\//, 'node_modules/')
      const key = `${node.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${node.callFrame.lineNumber + 1}` : ''}`.trim()
      byFn.set(key, (byFn.get(key) ?? 0) + us)
      const fileKey = url ? url.replace(/^(node_modules\/(@[^/]+\/)?[^/]+).*$/, '$1') : node.callFrame.functionName
      byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us)
    }
    const idle = byFn.get('(idle)') ?? 0
    if (total > 0 && idle / total > 0.95) {
      console.log('')
      console.log(`#### CPU profile ${name}: ${f((100 * idle) / total, 1)} % idle (a helper thread, such as tsx's module loader): skipped`)
      continue
    }
    const top = (m: Map<string, number>, n: number): string[] =>
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([k, us]) => `| ${k.replace(/\|/g, '\\|')} | ${f(us / 1000, 0)} | ${f((100 * us) / total, 1)} |`)
    console.log('')
    console.log(`#### CPU profile ${name}: ${f(total / 1e6, 1)} s of samples over ${f((p.endTime - p.startTime) / 1e6, 1)} s`)
    console.log('')
    console.log('| function (self time) | ms | % |')
    console.log('|---|--:|--:|')
    console.log(top(byFn, 30).join('\n'))
    console.log('')
    console.log('| file / package (self time) | ms | % |')
    console.log('|---|--:|--:|')
    console.log(top(byFile, 20).join('\n'))
  }
}

