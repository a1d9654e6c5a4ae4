import net from 'node:net'

const LOOPBACK = new net.BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/**
 * A client address as one key: an IPv4 client reached through a dual-stack socket (`::ffff:10.0.0.5`) is the
 * same client as `10.0.0.5`, and IPv6 zone ids and letter case are dropped.
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown'
  const plain = address.toLowerCase().replace(/%.*$/, '')
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(plain)
  return mapped ? mapped[1] : plain
}

/**
 * Whether a socket's remote address is this machine's loopback: 127.0.0.0/8, ::1 or either written as an
 * IPv4-mapped IPv6 address. Only the socket's own address counts: X-Forwarded-For and the like are never read
 * (Koa runs with `proxy: false`), since any client can send them.
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false
  const plain = address.replace(/%.*$/, '')
  const family = net.isIP(plain)
  if (family === 0) return false
  return LOOPBACK.check(plain, family === 4 ? 'ipv4' : 'ipv6')
}
