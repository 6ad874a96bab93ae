// Gas of every StorageMarket call, read from real receipts on anvil, against DESIGN.md's targets
// (submitProof <= 100k, fillSlot <= 150k). Run through bench/gas.sh; see bench/README.md.
//
// Two datasets, both with k = 4, m = 2 (n = 6) and 64 KiB blocks (64 segments each):
//   "1 GiB slots": 16 384 blocks per slot, so a proof has 6 + 14 + 3 = 23 siblings. Every segment
//     of slot i is one random 1 KiB pattern (a different one per slot), so the trees are
//     computed in O(depth) instead of from 6 GiB of data; the calldata is as random as real
//     ciphertext. The contract checks every proof, so a wrong tree here fails the run.
//   "open-bucket file": a 1 MiB file stored by the open-bucket binary (4 stripes), proofs built
//     by `open-bucket debug prove`, as the contract tests do.
// Each is measured under anvil's default hardfork (the newest: calldata costs at least 10 gas per
// token, EIP-7623) and under cancun (16 gas per non-zero calldata byte, no floor).
import { createHash, randomBytes } from 'node:crypto';
import {
  ethers, deployMarket, increaseTime, mine, mineToPeriod, roomInPeriod, signPermit, startAnvil, storedFile,
} from '../contracts/test/support.mjs';

const CONFIG = { period: 8, timeout: 4, slashPercent: 10, maxSlashes: 3, validatorPercent: 20, repairRewardPercent: 50 };
const TARGETS = { submitProof: 100_000n, fillSlot: 150_000n };
const sha256 = (...parts) => '0x' + createHash('sha256').update(Buffer.concat(parts.map((p) => Buffer.from(ethers.getBytes(p))))).digest('hex');
const node = (l, r) => sha256('0x01', l, r);

/// A dataset whose slot i has every segment equal to pattern[i]: uniform subtrees, so each level
/// of a power-of-two tree is one hash. Slot and block counts are powers of two here.
function uniformDataset({ n, k, blockSize, blocksPerSlot }) {
  const patterns = [...Array(n)].map(() => ethers.hexlify(randomBytes(1024)));
  const levelsPerBlock = Math.log2(blockSize / 1024);
  const levelsPerSlot = Math.log2(blocksPerSlot);
  const slots = patterns.map((p) => {
    const levels = [sha256('0x00', p)]; // levels[h] = every node at height h
    for (let h = 0; h < levelsPerBlock + levelsPerSlot; ++h) levels.push(node(levels[h], levels[h]));
    return { pattern: p, levels, root: levels.at(-1) };
  });
  // The dataset tree over n distinct roots, level by level (odd last node promoted).
  const tree = [slots.map((s) => s.root)];
  while (tree.at(-1).length > 1) {
    const level = tree.at(-1);
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(node(level[i], level[i + 1]));
    if (level.length % 2) next.push(level.at(-1));
    tree.push(next);
  }
  const prove = (slot, segment) => {
    // In a uniform power-of-two tree every sibling at height h is levels[h], whatever the index.
    const path = slots[slot].levels.slice(0, levelsPerBlock + levelsPerSlot);
    for (let h = 0, i = slot; h < tree.length - 1; ++h, i >>= 1) {
      const size = tree[h].length;
      if (i & 1) path.push(tree[h][i - 1]);
      else if (i + 1 < size) path.push(tree[h][i + 1]);
    }
    return { segment, data: slots[slot].pattern, path };
  };
  return {
    info: {
      n, k, blockSize, slotSize: blocksPerSlot * blockSize, datasetRoot: tree.at(-1)[0],
      manifestCid: ethers.hexlify(randomBytes(36)),
    },
    prove,
    cleanup() {},
  };
}

/// Calldata gas floor of EIP-7623: 21000 + 10 × (zero bytes + 4 × non-zero bytes).
function floorOf(data) {
  const bytes = ethers.getBytes(data);
  const nonzero = bytes.filter((b) => b !== 0).length;
  return 21_000n + 10n * BigInt(bytes.length - nonzero + 4 * nonzero);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return s[Math.floor((s.length - 1) / 2)];
};

async function measure(dataset, hardfork) {
  const chain = await startAnvil(hardfork ? ['--hardfork', hardfork] : []);
  try {
    const signers = await Promise.all([...Array(10).keys()].map((i) => chain.provider.getSigner(i)));
    const [deployer, producer, validator, placer] = [signers[0], signers[1], signers[8], signers[9]];
    const hosts = signers.slice(2, 8);
    const market = await deployMarket(deployer, CONFIG);
    const gas = {};
    const floors = {};
    const record = async (name, txPromise) => {
      const tx = await txPromise;
      const receipt = await tx.wait();
      (gas[name] ??= []).push(receipt.gasUsed);
      (floors[name] ??= []).push(floorOf(tx.data));
      return receipt;
    };
    const { info } = dataset;
    const ask = {
      manifestCid: info.manifestCid, datasetRoot: info.datasetRoot, n: info.n, k: info.k, blockSize: info.blockSize,
      slotSize: info.slotSize, duration: 30 * 86_400, expiry: 86_400, pricePerByteSecond: 1n, collateralPerByte: 1_000n,
      proofProbability: 1, placer: placer.address,
    };
    const escrow = BigInt(ask.n) * BigInt(ask.slotSize) * BigInt(ask.duration) * ask.pricePerByteSecond;
    const collateral = BigInt(ask.slotSize) * ask.collateralPerByte;
    const proofOf = async (id, slot, period) => {
      const [, segment] = await market.getChallenge(id, slot, period);
      const p = dataset.prove(slot, Number(segment));
      return { period, segment: p.data, path: p.path };
    };
    const open = async () => {
      await record('requestStorage', market.connect(producer).requestStorage(ethers.hexlify(randomBytes(32)), ask, { value: escrow }));
      return await market.requestCount();
    };
    const fill = async (id, slot, host, round = 0) => {
      const period = await roomInPeriod(chain.provider, market, 1);
      const permit = await signPermit(placer, market, id, slot, host.address, round);
      return record(round ? 'fillSlot (repair)' : 'fillSlot',
                    market.connect(host).fillSlot(id, slot, permit, await proofOf(id, slot, period), { value: collateral }));
    };
    const nextPeriod = async () => {
      const p = (await market.currentPeriod()) + 1n;
      await mineToPeriod(chain.provider, market, p);
      await mine(chain.provider, 1);
      return p;
    };

    const id = await open();
    for (let i = 0; i < ask.n; ++i) await fill(id, i, hosts[i]);
    let pathLength = 0;
    for (let round = 0; round < 3; ++round) {
      const p = await nextPeriod();
      for (let i = 0; i < ask.n - 1; ++i) { // the last host never proves
        const proof = await proofOf(id, i, p);
        pathLength = proof.path.length;
        await record('submitProof', market.connect(hosts[i]).submitProof(id, i, proof));
      }
      await nextPeriod();
      await record(round < 2 ? 'markProofAsMissing' : 'markProofAsMissing (removal)',
                   market.connect(validator).markProofAsMissing(id, ask.n - 1, p));
    }
    await fill(id, ask.n - 1, hosts[ask.n - 1], 1);
    await increaseTime(chain.provider, 3_600);
    await record('confirmDownload', market.connect(producer).confirmDownload(id));
    await record('freeSlot', market.connect(hosts[0]).freeSlot(id, 0));
    await record('withdraw', market.connect(hosts[1]).withdraw());
    await record('cancel', market.connect(producer).cancel(id));
    const id2 = await open();
    for (let i = 0; i < ask.n; ++i) await fill(id2, i, hosts[i]);
    await increaseTime(chain.provider, ask.duration);
    await record('close', market.connect(validator).close(id2));
    const result = {};
    for (const [name, values] of Object.entries(gas)) {
      result[name] = { gas: median(values), floor: median(floors[name]), calls: values.length };
    }
    return { result, pathLength };
  } finally {
    await chain.stop();
  }
}

const datasets = [
  ['1 GiB slots, 64 KiB blocks, n = 6', () => uniformDataset({ n: 6, k: 4, blockSize: 65_536, blocksPerSlot: 16_384 })],
  ['open-bucket file (1 MiB, 4 stripes), n = 6', () => storedFile({ size: 1 << 20, k: 4, m: 2, blockSize: 65_536 })],
];
let failed = false;
for (const [label, make] of datasets) {
  const dataset = make();
  try {
    const latest = await measure(dataset, null);
    const cancun = await measure(dataset, 'cancun');
    console.log(`\n${label}: ${latest.pathLength} siblings per proof`);
    console.log('call                          | gas (default hardfork) | gas (cancun) | calldata floor | target');
    console.log('------------------------------|-----------------------:|-------------:|---------------:|-------');
    for (const name of Object.keys(latest.result)) {
      const a = latest.result[name];
      const target = TARGETS[name];
      const verdict = target === undefined ? '' : a.gas <= target && cancun.result[name].gas <= target ? `<= ${target} PASS` : `<= ${target} OVER`;
      if (verdict.endsWith('OVER')) failed = true;
      console.log(`${name.padEnd(30)}| ${String(a.gas).padStart(22)} | ${String(cancun.result[name].gas).padStart(12)} | ` +
                  `${String(a.floor).padStart(14)} | ${verdict}`);
    }
  } finally {
    dataset.cleanup();
  }
}
console.log('\nMedians over every call of a kind. "calldata floor": what EIP-7623 charges at least for that calldata.');
process.exit(failed ? 1 : 0);
