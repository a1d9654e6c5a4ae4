import net from 'node:net'
import os from 'node:os'
import type { Middleware } from 'koa'
import { ApiError } from '../api-error'
import { echo } from '../api-params'
import { isLoopbackAddress } from './client-address'
import type { AppState } from './middleware'

/** A Host header: a name or IPv4 address, or an IPv6 address in brackets (a zone id allowed), then a port. */
const HOST_HEADER = /^(?:\[([0-9a-f:.]+)(?:%[\w.~%-]+)?\]|([a-z0-9._-]+))(?::\d{1,5})?$/i

/** How often, at most, the interface addresses are read again when a Host is not among them (DHCP, Wi-Fi). */
const REFRESH_MS = 1000

export interface HostPolicyOptions {
  /** VBS_ALLOWED_HOSTS: names or addresses, `.example.lan` / `*.example.lan` for a domain, `*` for any. */
  allowedHosts: string
  hostname?: () => string
  interfaces?: () => NodeJS.Dict<os.NetworkInterfaceInfo[]>
  now?: () => number
}

/**
 * Which Host headers this service answers (the DNS-rebinding guard): a web page on another site can make the
 * browser resolve its own name to this machine, but the browser still sends that name as the Host, so only
 * this machine's names and addresses and the ones the owner lists are served.
 *
 * Allowed: no Host at all (HTTP/1.0; browsers always send one), `localhost` and `*.localhost` (browsers resolve
 * them to loopback themselves), this machine's hostname with and without `.local`, every address of its
 * interfaces, 127.0.0.0/8, ::1, 0.0.0.0 and :: (which reach this machine), and VBS_ALLOWED_HOSTS; any port.
 */
export class HostPolicy {
  private readonly exact = new Set<string>()
  private readonly suffixes: string[] = []
  private readonly any: boolean
  private readonly hostname: () => string
  private readonly interfaces: () => NodeJS.Dict<os.NetworkInterfaceInfo[]>
  private readonly now: () => number
  private own = new Set<string>()
  private readAt = -Infinity

  constructor(o: HostPolicyOptions) {
    this.hostname = o.hostname ?? os.hostname
    this.interfaces = o.interfaces ?? os.networkInterfaces
    this.now = o.now ?? Date.now
    const entries = o.allowedHosts.split(',').map((e) => e.trim().toLowerCase()).filter(Boolean)
    this.any = entries.includes('*')
    for (const entry of entries) {
      const domain = /^\*?\.(.+)$/.exec(entry)
      if (domain) {
        this.suffixes.push(`.${domain[1].replace(/\.$/, '')}`)
        continue
      }
      const parsed = parseHost(entry)
      if (parsed) this.exact.add(parsed)
    }
    this.refresh()
  }

  allows(header: string | undefined): boolean {
    if (header === undefined || this.any) return true
    const host = parseHost(header)
    if (host === null) return false
    if (this.known(host)) return true
    if (this.now() - this.readAt < REFRESH_MS) return false
    this.refresh()
    return this.known(host)
  }

  private known(host: string): boolean {
    if (host === 'localhost' || host.endsWith('.localhost')) return true
    if (isLoopbackAddress(host) || host === '0.0.0.0' || host === '::') return true
    if (this.own.has(host) || this.exact.has(host)) return true
    return this.suffixes.some((s) => host.endsWith(s))
  }

  private refresh(): void {
    const own = new Set<string>()
    const name = this.hostname().toLowerCase().replace(/\.$/, '')
    if (name) {
      own.add(name)
      own.add(name.endsWith('.local') ? name.slice(0, -'.local'.length) : `${name}.local`)
    }
    for (const list of Object.values(this.interfaces())) {
      for (const info of list ?? []) {
        const address = canonicalAddress(info.address)
        if (address) own.add(address)
      }
    }
    this.own = own
    this.readAt = this.now()
  }
}

/**
 * The host part of a Host header (or of a VBS_ALLOWED_HOSTS entry) in one canonical form: lower case, no
 * port, no trailing dot, an IPv6 address compressed and without brackets or zone. Null when it is malformed
 * (which also keeps `a@b`, paths and spaces out).
 */
export function parseHost(header: string): string | null {
  const m = HOST_HEADER.exec(header.trim())
  if (!m) {
    // A bare IPv6 address (a VBS_ALLOWED_HOSTS entry written without brackets).
    return net.isIPv6(header.trim()) ? canonicalAddress(header.trim()) : null
  }
  if (m[1] !== undefined) return canonicalAddress(m[1])
  const name = m[2].toLowerCase().replace(/\.$/, '')
  return name === '' ? null : name
}

function canonicalAddress(address: string): string | null {
  const plain = address.replace(/%.*$/, '')
  if (net.isIPv4(plain)) return plain
  if (!net.isIPv6(plain)) return null
  try {
    return new URL(`http://[${plain}]/`).hostname.slice(1, -1)
  } catch {
    return null
  }
}

/** Answers 421 (and closes the connection) to a request for a host this service is not. Placed before auth. */
export function hostGuard(policy: HostPolicy): Middleware<AppState> {
  return async (ctx, next) => {
    const header = ctx.req.headers.host
    if (!policy.allows(header)) {
      throw new ApiError(
        421,
        `This server does not answer to the host name ${echo(header)}: it answers to this machine's own names and addresses. If clients reach it through another name (a DNS alias, a reverse proxy), add that name to VBS_ALLOWED_HOSTS (comma-separated) and restart.`,
        { code: 'misdirected_request', headers: { connection: 'close' } },
      )
    }
    await next()
  }
}
