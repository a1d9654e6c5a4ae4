import net from 'node:net'
import { echo } from '../contract/echo'

/** This service as a URL could name it: its port and the names and addresses that reach this machine. */
export interface SelfAddress {
  port: number
  hosts: ReadonlySet<string>
}

/**
 * Why a webhook URL is refused, or null: it must be http(s) (loopback and private addresses are fine: this is a
 * LAN tool), carry no credentials, and never point at this service itself (a loop of its own events).
 */
export function webhookUrlProblem(raw: string, self: SelfAddress | null): string | null {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return `${echo(raw)} is not a URL`
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `a webhook URL must be http or https, got ${url.protocol.replace(':', '')}`
  if (url.username || url.password) return 'a webhook URL may not carry a user name or password'
  if (raw.length > 2048) return 'a webhook URL may have at most 2048 characters'
  if (self && pointsAt(url, self)) return `${url.host} is this service itself; a webhook must go to another program`
  return null
}

/** Whether a URL (by its literal host) is this service: its port on one of this machine's names or addresses. */
export function pointsAt(url: URL, self: SelfAddress, resolved: readonly string[] = []): boolean {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
  if (port !== self.port) return false
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return [host, ...resolved].some((h) => isSelfHost(h, self))
}

function isSelfHost(host: string, self: SelfAddress): boolean {
  if (self.hosts.has(host) || host === 'localhost' || host.endsWith('.localhost')) return true
  if (net.isIPv4(host)) return host.startsWith('127.') || host === '0.0.0.0'
  if (net.isIPv6(host)) return host === '::1' || host === '::' || /^::ffff:127\./.test(host)
  return false
}
