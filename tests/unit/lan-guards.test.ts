import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { clientKey, isLoopbackAddress } from '../../main/server/client-address'
import { ConnectionGuard } from '../../main/server/connection-guard'
import { HostPolicy, parseHost } from '../../main/server/host-guard'
import { WaitingBodies } from '../../main/server/waiting-bodies'
import { ApiError } from '../../main/api-error'

describe('who counts as this machine', () => {
  it('is 127.0.0.0/8 and ::1, also written as IPv4-mapped IPv6, and nothing else', () => {
    for (const a of ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:0:0:1']) {
      expect([a, isLoopbackAddress(a)]).toEqual([a, true])
    }
    for (const a of ['192.168.1.5', '::ffff:192.168.1.5', '10.0.0.1', 'fe80::1', '0.0.0.0', '::', '128.0.0.1', 'localhost', '', undefined]) {
      expect([a, isLoopbackAddress(a)]).toEqual([a, false])
    }
  })

  it('keys a client by its address, an IPv4 client through a dual-stack socket the same as without', () => {
    expect(clientKey('::ffff:10.0.0.5')).toBe('10.0.0.5')
    expect(clientKey('10.0.0.5')).toBe('10.0.0.5')
    expect(clientKey('FE80::1%eth0')).toBe('fe80::1')
    expect(clientKey(undefined)).toBe('unknown')
  })
})

describe('Host header policy (DNS rebinding)', () => {
  const interfaces = (): NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]> => ({
    lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true, netmask: '255.0.0.0', mac: '', cidr: null }],
    eth0: [
      { address: '192.168.1.20', family: 'IPv4', internal: false, netmask: '255.255.255.0', mac: '', cidr: null },
      { address: 'fd00:0:0:0::20', family: 'IPv6', internal: false, netmask: 'ffff:ffff:ffff:ffff::', mac: '', cidr: null, scopeid: 0 },
    ],
  })
  const policy = (allowedHosts = ''): HostPolicy => new HostPolicy({ allowedHosts, hostname: () => 'GPU-Box', interfaces })

  it("allows this machine's names and addresses with any port, and no Host at all", () => {
    const p = policy()
    for (const h of [
      undefined,
      'localhost',
      'localhost:4080',
      'app.localhost:4080',
      'gpu-box',
      'GPU-BOX:4080',
      'gpu-box.local:4080',
      'gpu-box.',
      '192.168.1.20:4080',
      '127.0.0.1:4080',
      '127.0.0.2',
      '[::1]:4080',
      '[fd00::20]:4080',
      '[::ffff:127.0.0.1]:4080',
      '0.0.0.0:4080',
    ]) {
      expect([h, p.allows(h)]).toEqual([h, true])
    }
  })

  it('refuses other names and addresses, and malformed Hosts', () => {
    const p = policy()
    for (const h of ['evil.example', 'evil.example:4080', 'gpu-box.evil.example', '192.168.1.21', '[fd00::21]:4080', '', 'a b', 'evil.example@127.0.0.1', '127.0.0.1/x', 'localhost.evil.example']) {
      expect([h, p.allows(h)]).toEqual([h, false])
    }
  })

  it('allows what VBS_ALLOWED_HOSTS lists: names, addresses, domains, or anything', () => {
    const p = policy(' api.example.lan:8443 , .corp.example, 203.0.113.7, [2001:db8::7], 2001:db8::8 ')
    for (const h of ['api.example.lan', 'API.example.lan:4080', 'x.corp.example', 'a.b.corp.example:1', '203.0.113.7:4080', '[2001:db8::7]', '[2001:DB8:0::8]:4080']) {
      expect([h, p.allows(h)]).toEqual([h, true])
    }
    for (const h of ['corp.example.evil', 'example.lan', '203.0.113.8']) expect([h, p.allows(h)]).toEqual([h, false])
    expect(policy('*').allows('anything.example')).toBe(true)
  })

  it('reads the interfaces again when an address is not among them (a new DHCP lease), at most once a second', () => {
    let now = 0
    let addresses = ['192.168.1.20']
    const p = new HostPolicy({
      allowedHosts: '',
      hostname: () => 'box',
      interfaces: () => ({ eth0: addresses.map((address) => ({ address, family: 'IPv4' as const, internal: false, netmask: '', mac: '', cidr: null })) }),
      now: () => now,
    })
    addresses = ['10.1.2.3']
    now = 100
    expect(p.allows('10.1.2.3')).toBe(false) // read less than a second ago
    now = 2000
    expect(p.allows('10.1.2.3')).toBe(true)
    expect(p.allows('192.168.1.20')).toBe(false) // that lease is gone
  })

  it('parses Hosts into one canonical form', () => {
    expect(parseHost('[FD00:0:0:0::20%25eth0]:80')).toBe('fd00::20')
    expect(parseHost('Example.COM.:80')).toBe('example.com')
    expect(parseHost('x/y')).toBeNull()
  })
})

describe('waiting bodies', () => {
  it('holds at most so many bodies and bytes, answering 503 with Retry-After past either, and counts out once', () => {
    const w = new WaitingBodies({ maxBodies: 2, maxBytes: 1000, retryAfterSeconds: 7 })
    const a = w.enter(600)
    const refused = (() => {
      try {
        w.enter(500)
      } catch (err) {
        return err as ApiError
      }
      return null
    })()
    expect(refused).toBeInstanceOf(ApiError)
    expect(refused).toMatchObject({ status: 503, code: 'engine_busy', headers: { 'retry-after': '7' } })
    expect(refused!.message).toContain('VBS_MAX_WAITING_BODY_BYTES')
    const b = w.enter(100)
    expect(() => w.enter(1)).toThrow(/VBS_MAX_WAITING_BODIES/)
    expect([w.bodies, w.bytes]).toEqual([2, 700])
    a()
    a()
    expect([w.bodies, w.bytes]).toEqual([1, 100])
    b()
    expect([w.bodies, w.bytes]).toEqual([0, 0])
  })
})

describe('connection guard', () => {
  let server: http.Server | null = null
  const sockets: net.Socket[] = []
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy()
    if (server) await new Promise((r) => server!.close(r))
    server = null
  })

  /** A raw connection from `localAddress`; resolves with what the server sent once it closes (or after `waitMs`). */
  const connect = (port: number, localAddress: string): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s))
      s.on('error', reject)
      sockets.push(s)
    })
  const closedWith = (s: net.Socket): Promise<string> =>
    new Promise((resolve) => {
      let text = ''
      s.on('data', (d: Buffer) => (text += d.toString('utf8')))
      s.on('close', () => resolve(text))
    })

  it('answers 503 over the per-client cap, lets other clients in, and logs a burst once', async () => {
    const warnings: unknown[][] = []
    server = http.createServer((_req, res) => res.end('ok'))
    const guard = new ConnectionGuard({ maxConnections: 100, maxPerClient: 2, log: { warn: (...args: unknown[]) => warnings.push(args) } as never, burstMs: 60_000 })
    guard.attach(server)
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port

    await connect(port, '127.0.0.21')
    await connect(port, '127.0.0.21')
    await expectPoll(() => guard.open('127.0.0.21') === 2)
    const refusedTexts = await Promise.all([1, 2, 3].map(async () => closedWith(await connect(port, '127.0.0.21'))))
    for (const text of refusedTexts) {
      expect(text).toMatch(/^HTTP\/1\.1 503 /)
      expect(text.toLowerCase()).toContain('connection: close')
      expect(text).toContain('"code":"too_many_connections"')
    }
    expect(warnings).toHaveLength(1) // three refusals, one line
    const other = await fetchFrom(port, '127.0.0.22')
    expect(other).toBe('ok')
  })
})

async function expectPoll(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

function fetchFrom(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', localAddress, agent: false }, (res) => {
        let text = ''
        res.on('data', (d: Buffer) => (text += d.toString('utf8')))
        res.on('end', () => resolve(text))
      })
      .on('error', reject)
  })
}
