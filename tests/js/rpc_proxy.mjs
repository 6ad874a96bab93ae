// Test-only: an Ethereum JSON-RPC endpoint that can go away, in front of a real node (anvil),
// for tests/market_outage_test.sh. Never part of the product.
//
//   node rpc_proxy.mjs UPSTREAM_URL CONTROL_DIR
//
// Prints "proxy http://127.0.0.1:PORT" once it listens (port chosen by the system), then
// forwards every HTTP POST to UPSTREAM_URL and its reply back. Two files in CONTROL_DIR steer it,
// read on every request:
//   down  while it exists, every connection is closed at once without a reply (the node is gone);
//   trip  the next eth_sendRawTransaction is forwarded (the node mines it), then the proxy
//         creates `down`, removes `trip` and closes the caller's connection without the reply:
//         the transaction went through but its sender never heard back.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const [upstream, control] = process.argv.slice(2);
if (!upstream || !control) {
  console.error('usage: rpc_proxy.mjs UPSTREAM_URL CONTROL_DIR');
  process.exit(2);
}
const downFile = path.join(control, 'down');
const tripFile = path.join(control, 'trip');

const server = http.createServer((req, res) => {
  if (fs.existsSync(downFile)) {
    req.socket.destroy();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    const trips = fs.existsSync(tripFile) && body.includes('eth_sendRawTransaction');
    try {
      const reply = await fetch(upstream, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = Buffer.from(await reply.arrayBuffer());
      if (trips) {
        fs.writeFileSync(downFile, '');
        fs.rmSync(tripFile, { force: true });
        req.socket.destroy();
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(text);
    } catch (e) {
      req.socket.destroy();
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`proxy http://127.0.0.1:${server.address().port}`);
});
