// What the contract tests and the gas benchmark share: a private anvil, the contract from the
// open-bucket binary, a stored file whose proofs the binary builds, EIP-712 fill permits, period
// alignment, and a ledger that checks every wei against eth_getBalance.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { ethers } from 'ethers';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
export const ARTIFACT = JSON.parse(readFileSync(join(here, '..', 'artifacts', 'StorageMarket.json'), 'utf8'));
const MARKET_INTERFACE = new ethers.Interface(ARTIFACT.abi);

/// The open-bucket binary under test: $OPEN_BUCKET (ctest passes it), else build/open-bucket.
export function openBucketBinary() {
  return process.env.OPEN_BUCKET ?? join(here, '..', '..', 'build', 'open-bucket');
}

function anvilBinary() {
  // The platform package's binary itself, not the npm wrapper script: stopping it by PID then
  // stops anvil, with no child left behind.
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch];
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  return join(dirname(require.resolve(`${pkg}/package.json`)), 'bin', 'anvil');
}

/// Starts anvil on a free loopback port; resolves when it listens (30 s at most).
export async function startAnvil(extraArgs = []) {
  const child = spawn(anvilBinary(), ['--host', '127.0.0.1', '--port', '0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killer = () => child.kill('SIGKILL');
  process.on('exit', killer);
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`anvil did not listen within 30 s: ${out}`)), 30_000);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(/Listening on (127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.resume(); // discard anvil's per-transaction log from now on
        resolve(`http://${m[1]}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => { out += chunk; });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`anvil exited (${code}): ${out}`)); });
  });
  const provider = new ethers.JsonRpcProvider(url, ethers.Network.from(31337), {
    staticNetwork: true, cacheTimeout: -1, pollingInterval: 20,
  });
  return {
    url,
    provider,
    async stop() {
      provider.destroy();
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      process.off('exit', killer);
    },
  };
}

/// Runs open-bucket with `args`; returns its stdout. Throws with its stderr on failure.
export function openBucket(home, ...args) {
  try {
    return execFileSync(openBucketBinary(), ['--home', home, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`open-bucket ${args.join(' ')}: ${e.stderr || e.message}`);
  }
}

/// The contract the binary carries (`debug market-artifact`); must equal the checked-in artifact.
export function embeddedArtifact() {
  return JSON.parse(execFileSync(openBucketBinary(), ['debug', 'market-artifact'], { encoding: 'utf8' }));
}

/// A file stored by the real binary in a fresh home: `size` random bytes, k data + m parity slots
/// of `blockSize`-byte blocks. prove(slot, segment) returns the binary's proof JSON.
export function storedFile({ size, k, m, blockSize }) {
  const dir = mkdtempSync(join(tmpdir(), 'ob-market-'));
  const home = join(dir, 'home');
  openBucket(home, 'init');
  writeFileSync(join(dir, 'file.bin'), randomBytes(size));
  const cid = openBucket(home, 'data', 'put', '--k', String(k), '--m', String(m), '--block-size', String(blockSize),
                         join(dir, 'file.bin')).trim();
  const cache = new Map();
  const prove = (slot, segment) => {
    const key = `${slot}/${segment}`;
    if (!cache.has(key)) {
      cache.set(key, JSON.parse(openBucket(home, 'debug', 'prove', cid, '--slot', String(slot), '--segment', String(segment))));
    }
    return cache.get(key);
  };
  const info = prove(0, 0);
  return {
    cid, info, prove,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/// Deploys StorageMarket from the binary's bytecode.
export async function deployMarket(signer, config) {
  const { bytecode } = embeddedArtifact();
  const factory = new ethers.ContractFactory(ARTIFACT.abi, bytecode, signer);
  const market = await factory.deploy(config.period, config.timeout, config.slashPercent, config.maxSlashes,
                                      config.validatorPercent, config.repairRewardPercent);
  await market.waitForDeployment();
  return market;
}

/// The placer's EIP-712 permit for `host` to fill a slot in fill `round`, signed by anvil.
export async function signPermit(placer, market, requestId, slotIndex, host, round) {
  const domain = {
    name: 'Open Bucket StorageMarket', version: '1', chainId: 31337, verifyingContract: await market.getAddress(),
  };
  const types = {
    FillPermit: [
      { name: 'requestId', type: 'uint256' }, { name: 'slotIndex', type: 'uint256' },
      { name: 'host', type: 'address' }, { name: 'round', type: 'uint16' },
    ],
  };
  return placer.signTypedData(domain, types, { requestId, slotIndex, host, round });
}

/// Mines blocks so that the next `count` transactions land in one proof period, not in its first
/// block (whose challenge reads the latest block's hash); returns that period.
export async function roomInPeriod(provider, market, count = 1) {
  const period = Number(await market.proofPeriod());
  const zero = Number(await market.zeroBlock());
  let next = (await provider.getBlockNumber()) + 1;
  let offset = (next - zero) % period;
  if (offset === 0 || offset + count > period) {
    const skip = offset === 0 ? 1 : period - offset + 1;
    await mine(provider, skip);
    next += skip;
    offset = (next - zero) % period;
  }
  return BigInt(Math.floor((next - zero) / period));
}

/// Mines until the next block is the first of `period`.
export async function mineToPeriod(provider, market, period) {
  const start = Number(await market.periodStart(period));
  const next = (await provider.getBlockNumber()) + 1;
  if (start > next) await mine(provider, start - next);
}

export async function mine(provider, blocks) {
  if (blocks > 0) await provider.send('anvil_mine', [ethers.toQuantity(blocks)]);
}

export async function increaseTime(provider, seconds) {
  await provider.send('evm_increaseTime', [ethers.toQuantity(seconds)]);
  await provider.send('evm_mine', []);
}

/// Awaits a promise that must revert with custom error `name`; returns the error's arguments.
export async function reverts(promise, name) {
  try {
    await promise;
  } catch (e) {
    // ethers decodes custom errors of calls; for transactions (their gas estimate) we do.
    const decoded = e.revert ?? (e.data ? MARKET_INTERFACE.parseError(e.data) : null);
    if (decoded?.name === name) return decoded.args;
    throw new Error(`expected revert ${name}, got ${decoded?.name ?? e.shortMessage ?? e.message}`);
  }
  throw new Error(`expected revert ${name}, but the call succeeded`);
}

/// Every transaction of a test goes through send(): it records each account's fees, the value it
/// sent and the contract's events, so that balances can be checked against eth_getBalance and
/// the contract's books against its own balance.
export class Ledger {
  constructor(provider, market) {
    this.provider = provider;
    this.market = market;
    this.start = new Map(); // account -> balance before
    this.spent = new Map(); // account -> fees + value sent
    this.events = [];
  }

  async watch(...accounts) {
    for (const a of accounts) {
      const address = typeof a === 'string' ? a : await a.getAddress();
      if (!this.start.has(address)) this.start.set(address, await this.provider.getBalance(address));
    }
  }

  /// Sends (awaits) a transaction, checks it succeeded, records its costs and the contract's events.
  async send(txPromise) {
    const tx = await txPromise;
    const receipt = await tx.wait();
    const from = ethers.getAddress(tx.from);
    this.spent.set(from, (this.spent.get(from) ?? 0n) + receipt.gasUsed * receipt.gasPrice + tx.value);
    const address = await this.market.getAddress();
    for (const log of receipt.logs) {
      if (log.address !== address) continue;
      const parsed = this.market.interface.parseLog(log);
      if (parsed) this.events.push(parsed);
    }
    return receipt;
  }

  sum(eventName, field) {
    return this.events.filter((e) => e.name === eventName).reduce((acc, e) => acc + e.args[field], 0n);
  }

  /// Checks: (1) each watched account's balance = start − fees − value sent + what it withdrew;
  /// (2) the contract holds exactly what came in minus what was withdrawn; (3) everything that
  /// came in is either credited to someone or still held for a running request (escrow,
  /// forfeited collateral, live collateral); (4) what is credited equals the withdrawable balances.
  async check(requestIds, assert) {
    const withdrawn = new Map();
    for (const e of this.events.filter((x) => x.name === 'Withdrawn')) {
      withdrawn.set(e.args.account, (withdrawn.get(e.args.account) ?? 0n) + e.args.amount);
    }
    for (const [account, before] of this.start) {
      const expected = before - (this.spent.get(account) ?? 0n) + (withdrawn.get(account) ?? 0n);
      assert.equal(await this.provider.getBalance(account), expected, `balance of ${account}`);
    }
    let totalIn = this.sum('StorageRequested', 'escrow');
    for (const e of this.events.filter((x) => x.name === 'SlotFilled')) {
      totalIn += await this.market.slotCollateral(e.args.requestId);
    }
    const totalOut = this.sum('Withdrawn', 'amount');
    const held = await this.provider.getBalance(await this.market.getAddress());
    assert.equal(held, totalIn - totalOut, 'the contract holds what came in minus what was withdrawn');

    const credited = this.sum('PaymentSettled', 'amount') + this.sum('SlotPaid', 'pay') + this.sum('SlotPaid', 'collateral') +
      this.sum('ProofMissed', 'reward') + this.sum('SlotFilled', 'repairReward') + this.sum('RequestEnded', 'refund');
    let live = 0n;
    for (const id of requestIds) {
      const r = await this.market.getRequest(id);
      live += r.escrow + r.forfeited;
      for (let i = 0; i < Number(r.n); ++i) {
        const s = await this.market.getSlot(id, i);
        if (Number(s.state) === 1) live += s.collateral;
      }
    }
    assert.equal(credited + live, totalIn, 'every wei is credited to an account or held for a running request');
    let withdrawable = 0n;
    const accounts = new Set([...this.start.keys()]);
    for (const e of this.events) {
      for (const input of e.fragment.inputs) if (input.type === 'address') accounts.add(e.args[input.name]);
    }
    for (const a of accounts) withdrawable += await this.market.withdrawable(a);
    assert.equal(withdrawable, credited - totalOut, 'withdrawable balances = credited − withdrawn');
  }
}

export { ethers };
