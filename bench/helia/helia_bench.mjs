#!/usr/bin/env node
// Baseline for bench/e2e.sh: the same file added to one Helia (IPFS in JavaScript) node and
// fetched by a second one over loopback TCP, each node in its own child process with its own
// on-disk blockstore.
//
// Usage: node bench/helia/helia_bench.mjs FILE
// Prints one JSON line: {"addMBps": x, "fetchMBps": y, "bytes": n, "cid": "...", "identical": true}
// (MB = 10^6 bytes). Exits non-zero with a message on stderr on any failure.
//
//   add:   node A, unixfs.addByteStream of FILE streamed from disk (default importer settings:
//          CIDv1, raw leaves, 256 KiB chunks) into A's FsBlockstore, until the root CID is returned.
//   fetch: node B, already connected to A, unixfs.cat(cid) over bitswap, every byte consumed and
//          SHA-256 hashed inline, until the last byte (B stores the fetched blocks in its own
//          FsBlockstore as it goes, Helia's default for fetched blocks).
// Each node: TCP on 127.0.0.1 (random port), noise, yamux, identify, bitswap; no bootstrap, DHT,
// mDNS, relay, AutoNAT, UPnP, HTTP gateways or delegated routing. Neither blockstore fsyncs.
//
// Environment: TMPDIR (default /var/tmp, on disk like e2e.sh), HELIA_BENCH_TIMEOUT_S (default 1800).

import { fork } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const SELF = fileURLToPath(import.meta.url)

// Helia 7 / libp2p 3 target Node >= 22; on Node 20 (Debian's) the one missing language feature
// they use is Promise.withResolvers (ES2024). Defined here only where absent.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

// --- child: one Helia node driven over the IPC channel -------------------------------------------
async function child (dir) {
  const send = (msg) => new Promise((resolve) => process.send(msg, resolve))
  const [{ createHeliaLight }, { withLibp2pLight }, { withBitswap }, { unixfs }, { FsBlockstore },
    { MemoryDatastore }, { tcp }, { noise }, { yamux }, { identify }, { multiaddr }] = await Promise.all([
    import('helia'), import('@helia/libp2p'), import('@helia/bitswap'), import('@helia/unixfs'),
    import('blockstore-fs'), import('datastore-core'), import('@libp2p/tcp'), import('@libp2p/noise'),
    import('@libp2p/yamux'), import('@libp2p/identify'), import('@multiformats/multiaddr')])

  const helia = withBitswap(withLibp2pLight(createHeliaLight({
    blockstore: new FsBlockstore(path.join(dir, 'blocks')),
    datastore: new MemoryDatastore()
  }), {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [],
    services: { identify: identify() }
  }))
  await helia.start()
  const fsys = unixfs(helia)
  await send({ type: 'ready', addrs: helia.libp2p.getMultiaddrs().map(String) })

  process.on('message', async (msg) => {
    try {
      if (msg.cmd === 'add') {
        const t0 = process.hrtime.bigint()
        const cid = await fsys.addByteStream(createReadStream(msg.file, { highWaterMark: 1 << 20 }))
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9
        await send({ type: 'added', cid: cid.toString(), seconds })
      } else if (msg.cmd === 'fetch') {
        const { CID } = await import('multiformats/cid')
        const conn = await helia.libp2p.dial(multiaddr(msg.addr))
        // Wait until identify has told B that A speaks bitswap, so the want goes straight to A.
        const deadline = Date.now() + 30_000
        for (;;) {
          const peer = await helia.libp2p.peerStore.get(conn.remotePeer).catch(() => null)
          if (peer?.protocols.some((p) => p.startsWith('/ipfs/bitswap/'))) break
          if (Date.now() > deadline) throw new Error('peer A did not announce bitswap within 30 s')
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        const hash = createHash('sha256')
        let bytes = 0
        const t0 = process.hrtime.bigint()
        for await (const buf of fsys.cat(CID.parse(msg.cid))) {
          hash.update(buf)
          bytes += buf.byteLength
        }
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9
        await send({ type: 'fetched', seconds, bytes, sha256: hash.digest('hex') })
      } else if (msg.cmd === 'stop') {
        await helia.stop()
        await send({ type: 'stopped' })
        process.exit(0)
      }
    } catch (err) {
      await send({ type: 'error', message: `${msg.cmd}: ${err?.stack ?? err}` })
      process.exit(1)
    }
  })
}

// --- parent: two children, the measurements, the JSON line ----------------------------------------
class Node {
  constructor (name, dir) {
    this.name = name
    this.queue = []
    this.waiters = []
    this.exited = false
    // The children's stdout goes to our stderr: our stdout carries only the JSON line.
    this.proc = fork(SELF, ['--child', dir], { stdio: ['ignore', 2, 'inherit', 'ipc'] })
    this.proc.on('message', (msg) => this.push(msg))
    this.proc.on('error', (err) => this.push({ type: 'error', message: `node ${name}: ${err.message}` }))
    this.stopping = false
    // Rejects when the child dies before it was told to stop, so that its peer does not wait
    // for blocks that will never come.
    this.died = new Promise((resolve, reject) => {
      this.proc.on('exit', (code, signal) => {
        this.exited = true
        const message = `node ${name} exited (${signal ?? code})`
        this.push({ type: 'exit', message })
        if (!this.stopping) reject(new Error(message))
      })
    })
    this.died.catch(() => {})
  }

  push (msg) {
    const w = this.waiters.shift()
    if (w) w(msg)
    else this.queue.push(msg)
  }

  async next (type) {
    const msg = this.queue.length ? this.queue.shift() : await new Promise((resolve) => this.waiters.push(resolve))
    if (msg.type !== type) throw new Error(`node ${this.name}: ${msg.message ?? `unexpected ${msg.type}`}`)
    return msg
  }

  async call (msg, reply) {
    if (msg.cmd === 'stop') this.stopping = true
    // A send to a child that died fails here; its 'exit' message then tells why.
    this.proc.send(msg, () => {})
    return this.next(reply)
  }

  kill () {
    if (!this.exited) this.proc.kill('SIGKILL')
  }
}

async function sha256File (file) {
  const hash = createHash('sha256')
  for await (const buf of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(buf)
  return hash.digest('hex')
}

async function main () {
  const file = process.argv[2]
  if (!file || process.argv.length > 3) throw new Error('usage: node helia_bench.mjs FILE')
  const st = await fs.stat(file)
  if (!st.isFile()) throw new Error(`${file} is not a regular file`)
  const expected = await sha256File(file) // also warms the page cache, as for our upload

  const root = await fs.mkdtemp(path.join(process.env.TMPDIR || '/var/tmp', 'helia-bench-'))
  const nodes = []
  let timer
  const cleanup = async () => {
    clearTimeout(timer)
    for (const n of nodes) n.kill()
    await fs.rm(root, { recursive: true, force: true })
  }
  for (const [sig, num] of [['SIGINT', 2], ['SIGTERM', 15]]) {
    process.on(sig, () => {
      for (const n of nodes) n.kill()
      rmSync(root, { recursive: true, force: true })
      process.stderr.write(`helia_bench: interrupted by ${sig}\n`)
      process.exit(128 + num)
    })
  }
  try {
    const timeoutS = Number(process.env.HELIA_BENCH_TIMEOUT_S || 1800)
    const timeout = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutS} s`)), timeoutS * 1000)
    })
    const run = async () => {
      const a = new Node('A', path.join(root, 'a'))
      const b = new Node('B', path.join(root, 'b'))
      nodes.push(a, b)
      const died = Promise.race([a.died, b.died])
      died.catch(() => {})
      const [readyA] = await Promise.all([a.next('ready'), b.next('ready')])
      const addr = readyA.addrs.find((s) => s.startsWith('/ip4/127.0.0.1/tcp/'))
      if (!addr) throw new Error(`node A has no loopback TCP address: ${readyA.addrs}`)

      const added = await Promise.race([a.call({ cmd: 'add', file: path.resolve(file) }, 'added'), died])
      const fetched = await Promise.race([b.call({ cmd: 'fetch', cid: added.cid, addr }, 'fetched'), died])
      await Promise.all([b.call({ cmd: 'stop' }, 'stopped'), a.call({ cmd: 'stop' }, 'stopped')])

      const identical = fetched.bytes === st.size && fetched.sha256 === expected
      if (!identical) {
        throw new Error(`fetched ${fetched.bytes} bytes with SHA-256 ${fetched.sha256}; ` +
          `the file has ${st.size} bytes with SHA-256 ${expected}`)
      }
      const round = (x) => Math.round(x * 10) / 10
      return {
        addMBps: round(st.size / 1e6 / added.seconds),
        fetchMBps: round(st.size / 1e6 / fetched.seconds),
        bytes: st.size,
        cid: added.cid,
        identical
      }
    }
    const result = await Promise.race([run(), timeout])
    process.stdout.write(JSON.stringify(result) + '\n')
  } finally {
    await cleanup()
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3]).catch((err) => {
    process.stderr.write(`helia_bench child: ${err?.stack ?? err}\n`)
    process.exit(1)
  })
} else {
  main().then(() => process.exit(0), (err) => {
    process.stderr.write(`helia_bench: ${err?.message ?? err}\n`)
    process.exit(1)
  })
}
