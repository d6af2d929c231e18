// Reads the agent's own network namespace from /proc/self/net (per-netns, unlike /sys/class/net
// when entered with nsenter --net): interface names, the IPv4 routing table, local addresses.
// Parsing is pure and unit-tested; the readers are thin.

import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

/** Interface names from the text of /proc/net/dev, without lo. */
export function parseNetDev(text: string): string[] {
  return text
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]?.trim() ?? '')
    .filter((n) => n !== '' && n !== 'lo');
}

export interface RouteEntry { readonly iface: string; readonly dest: number; readonly mask: number }

/** /proc/net/route stores addresses as little-endian hex of the network-order bytes. */
function hexToIp32(hex: string): number {
  const v = parseInt(hex, 16) >>> 0;
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

export function parseRoutes(text: string): RouteEntry[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8)
    .map((f) => ({ iface: f[0]!, dest: hexToIp32(f[1]!), mask: hexToIp32(f[7]!) }));
}

export function ipToU32(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** The interface of the most specific route to ip (longest prefix), or undefined. */
export function routeInterface(routes: readonly RouteEntry[], ip: string): string | undefined {
  const a = ipToU32(ip);
  let best: RouteEntry | undefined;
  for (const r of routes) {
    if (((a & r.mask) >>> 0) !== r.dest) continue;
    if (!best || r.mask > best.mask) best = r;
  }
  return best?.iface;
}

export function readInterfaces(): string[] {
  return parseNetDev(readFileSync('/proc/self/net/dev', 'utf8'));
}

export function readRoutes(): RouteEntry[] {
  return parseRoutes(readFileSync('/proc/self/net/route', 'utf8'));
}

/** IPv4 addresses configured in this netns (getifaddrs is netns-aware). */
export function readLocalAddrs(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4') out.add(a.address);
  }
  return [...out].sort();
}
