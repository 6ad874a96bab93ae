// StorageMarket.sol on a private anvil, driven with ethers v6 (node --test). The contract is the
// bytecode inside the open-bucket binary; every proof is built by the binary (`debug prove`) from
// a file it stored, so the contract is checked against the trees our C++ code builds.
// Run: OPEN_BUCKET=build/open-bucket node --test contracts/test/   (ctest: contract_tests)
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ethers } from 'ethers';
import {
  ARTIFACT, Ledger, deployMarket, embeddedArtifact, increaseTime, mine, mineToPeriod, reverts, roomInPeriod, signPermit,
  startAnvil, storedFile,
} from './support.mjs';

const RequestState = { New: 0, Started: 1, Cancelled: 2, Finished: 3, Failed: 4 };
const SlotState = { Free: 0, Filled: 1, Freed: 2, Repair: 3, Paid: 4 };
const CONFIG = { period: 8, timeout: 4, slashPercent: 10, maxSlashes: 3, validatorPercent: 20, repairRewardPercent: 50 };

let chain;
let file; // 3 slots (k = 2) of 5 blocks of 5 KiB: odd counts at every level of the tree
let producer, hosts, validator, outsider, placer;

before(async () => {
  chain = await startAnvil();
  const signers = await Promise.all([...Array(10).keys()].map((i) => chain.provider.getSigner(i)));
  [, producer] = signers;
  hosts = signers.slice(2, 5);
  [validator, outsider] = [signers[5], signers[6]];
  placer = signers[9];
  file = storedFile({ size: 50_000, k: 2, m: 1, blockSize: 5120 });
  assert.equal(file.info.n, 3);
  assert.equal(file.info.slotSize, 5 * 5120);
});

after(async () => {
  await chain?.stop();
  file?.cleanup();
});

// A fresh market per test; `ledger` sees every transaction.
let market, ledger;
beforeEach(async () => {
  market = await deployMarket(await chain.provider.getSigner(0), CONFIG);
  ledger = new Ledger(chain.provider, market);
  await ledger.watch(producer, ...hosts, validator, outsider, placer);
});

function ask(overrides = {}) {
  return {
    manifestCid: file.info.manifestCid,
    datasetRoot: file.info.datasetRoot,
    n: file.info.n,
    k: file.info.k,
    blockSize: file.info.blockSize,
    slotSize: file.info.slotSize,
    duration: 86_400,
    expiry: 3_600,
    pricePerByteSecond: 1_000n,
    collateralPerByte: 1_000_000_000n,
    proofProbability: 1,
    placer: placer.address,
    ...overrides,
  };
}

const escrowOf = (a) => BigInt(a.n) * BigInt(a.slotSize) * BigInt(a.duration) * BigInt(a.pricePerByteSecond);
const nonce = () => ethers.hexlify(randomBytes(32));

async function request(overrides = {}) {
  const a = ask(overrides);
  const receipt = await ledger.send(market.connect(producer).requestStorage(nonce(), a, { value: escrowOf(a) }));
  const event = ledger.events.findLast((e) => e.name === 'StorageRequested');
  return { id: event.args.requestId, ask: a, receipt };
}

/// The proof of `slot` for the challenge of `period`, as the binary builds it.
async function proofFor(id, slot, period) {
  const [, segment] = await market.getChallenge(id, slot, period);
  const p = file.prove(slot, Number(segment));
  assert.equal(p.segment, Number(segment));
  return { period, segment: p.data, path: p.path };
}

async function fillTx(id, slot, host, { round = 0, signer = placer, value, mutate } = {}) {
  const period = await roomInPeriod(chain.provider, market, 1);
  let proof = await proofFor(id, slot, period);
  if (mutate) proof = mutate(proof);
  const permit = await signPermit(signer, market, id, slot, host.address, round);
  return market.connect(host).fillSlot(id, slot, permit, proof, { value: value ?? await market.slotCollateral(id) });
}

const fill = async (id, slot, host, options) => ledger.send(fillTx(id, slot, host, options));

/// Fills slot i with hosts[i]; returns the receipts.
async function fillAll(id) {
  const receipts = [];
  for (let i = 0; i < 3; ++i) receipts.push(await fill(id, i, hosts[i]));
  return receipts;
}

/// Proves `slot` in the current period (which must not be its fill period).
async function prove(id, slot, host) {
  const period = await roomInPeriod(chain.provider, market, 1);
  return ledger.send(market.connect(host).submitProof(id, slot, await proofFor(id, slot, period)));
}

/// Moves to the next period (to its second block, so its challenge can be read).
async function nextPeriod() {
  const current = await market.currentPeriod();
  await mineToPeriod(chain.provider, market, current + 1n);
  await mine(chain.provider, 1);
  return current + 1n;
}

const flip = (hex, byte, bit = 0) => {
  const b = ethers.getBytes(hex);
  b[byte] ^= 1 << bit;
  return ethers.hexlify(b);
};

const blockTime = async (receipt) => BigInt((await chain.provider.getBlock(receipt.blockNumber)).timestamp);

describe('deployment', () => {
  it('carries the artifact solc built, and its parameters are readable', async () => {
    assert.equal(embeddedArtifact().bytecode, ARTIFACT.bytecode);
    assert.equal(await market.proofPeriod(), 8n);
    assert.equal(await market.proofTimeout(), 4n);
    assert.equal(await market.slashPercent(), 10n);
    assert.equal(await market.maxSlashes(), 3n);
    assert.equal(await market.validatorPercent(), 20n);
    assert.equal(await market.repairRewardPercent(), 50n);
    assert.equal(await market.SEGMENT_SIZE(), 1024n);
  });

  it('refuses parameters it could not honour', async () => {
    const deployer = await chain.provider.getSigner(0);
    for (const bad of [
      { period: 0 }, { timeout: 0 }, { period: 200, timeout: 57 }, { slashPercent: 0 }, { maxSlashes: 0 },
      { slashPercent: 34, maxSlashes: 3 }, { validatorPercent: 101 }, { repairRewardPercent: 101 },
    ]) {
      await reverts(deployMarket(deployer, { ...CONFIG, ...bad }), 'InvalidConfig');
    }
    await deployMarket(deployer, { ...CONFIG, period: 200, timeout: 56 }); // the limit itself is fine
  });

  it('refuses plain Ether', async () => {
    await assert.rejects(outsider.sendTransaction({ to: await market.getAddress(), value: 1n }));
  });
});

describe('requestStorage', () => {
  it('escrows exactly n × slot size × duration × price and records the request', async () => {
    const n0 = nonce();
    const a = ask();
    const receipt = await ledger.send(market.connect(producer).requestStorage(n0, a, { value: escrowOf(a) }));
    const id = ledger.events[0].args.requestId;
    assert.equal(id, 1n);
    assert.equal(await market.requestIdOf(producer.address, n0), id);
    const r = await market.getRequest(id);
    const t = await blockTime(receipt);
    assert.equal(r.client, producer.address);
    assert.equal(Number(r.state), RequestState.New);
    assert.equal(r.escrow, escrowOf(a));
    assert.equal(r.expiresAt, t + 3_600n);
    assert.equal(r.endsAt, t + 86_400n);
    assert.equal(r.manifestCid, file.info.manifestCid);
    assert.equal(r.datasetRoot, file.info.datasetRoot);
    assert.equal(Number(await market.requestState(id)), RequestState.New);
    await ledger.check([id], assert);
  });

  it('refuses bad asks with a named error each', async () => {
    const cases = [
      [{ n: 0, k: 0 }, 'InvalidSlots'], [{ k: 0 }, 'InvalidSlots'], [{ k: 4 }, 'InvalidSlots'],
      [{ blockSize: 0 }, 'InvalidBlockSize'], [{ blockSize: 5000 }, 'InvalidBlockSize'],
      [{ blockSize: 8 << 20 }, 'InvalidBlockSize'],
      [{ slotSize: 0 }, 'InvalidSlotSize'], [{ slotSize: 5120 * 5 + 1024 }, 'InvalidSlotSize'],
      [{ expiry: 86_400 }, 'InvalidDuration'], [{ expiry: 90_000 }, 'InvalidDuration'], [{ expiry: 0 }, 'InvalidDuration'],
      [{ duration: 2n ** 40n + 1n }, 'InvalidDuration'],
      [{ pricePerByteSecond: 0n }, 'InvalidPrice'], [{ proofProbability: 0 }, 'InvalidProbability'],
      [{ manifestCid: '0x' }, 'InvalidManifest'], [{ manifestCid: ethers.hexlify(randomBytes(129)) }, 'InvalidManifest'],
      [{ datasetRoot: ethers.ZeroHash }, 'InvalidManifest'],
    ];
    for (const [overrides, error] of cases) {
      const a = ask(overrides);
      const value = overrides.n === 0 || overrides.duration ? 0n : escrowOf(a);
      await reverts(market.connect(producer).requestStorage(nonce(), a, { value }), error);
    }
    const a = ask();
    for (const value of [escrowOf(a) - 1n, escrowOf(a) + 1n, 0n]) {
      const [expected, sent] = await reverts(market.connect(producer).requestStorage(nonce(), a, { value }),
                                             'EscrowMismatch');
      assert.deepEqual([expected, sent], [escrowOf(a), value]);
    }
    assert.equal(await market.requestCount(), 0n);
  });

  it('never charges twice for one nonce', async () => {
    const n0 = nonce();
    const a = ask();
    await ledger.send(market.connect(producer).requestStorage(n0, a, { value: escrowOf(a) }));
    const [existing] = await reverts(market.connect(producer).requestStorage(n0, a, { value: escrowOf(a) }),
                                     'DuplicateRequest');
    assert.equal(existing, 1n);
    // The nonce is the client's own: another client may use the same one.
    await ledger.send(market.connect(outsider).requestStorage(n0, a, { value: escrowOf(a) }));
    assert.equal(await market.requestIdOf(outsider.address, n0), 2n);
    await ledger.check([1n, 2n], assert);
  });
});

describe('fillSlot', () => {
  it('fills every slot with a proof built by open-bucket, then the request starts', async () => {
    const { id } = await request();
    for (let i = 0; i < 3; ++i) {
      await fill(id, i, hosts[i]);
      const s = await market.getSlot(id, i);
      assert.equal(s.host, hosts[i].address);
      assert.equal(Number(s.state), SlotState.Filled);
      assert.equal(s.collateral, await market.slotCollateral(id));
      assert.equal(Number((await market.getRequest(id)).state), i < 2 ? RequestState.New : RequestState.Started);
    }
    assert.ok(ledger.events.some((e) => e.name === 'RequestStarted' && e.args.requestId === id));
    await ledger.check([id], assert);
  });

  it('refuses a second fill, a fill out of range, a wrong collateral and an unknown request', async () => {
    const { id } = await request();
    await fill(id, 0, hosts[0]);
    const [state] = await reverts(fillTx(id, 0, hosts[1], { round: 1 }), 'SlotNotFree');
    assert.equal(Number(state), SlotState.Filled);
    await reverts(fillTx(id, 0, hosts[1], { round: 0 }), 'SlotNotFree');
    await reverts(market.connect(hosts[1]).fillSlot(id, 3, '0x', { period: 0, segment: '0x', path: [] }), 'SlotOutOfRange');
    const collateral = await market.slotCollateral(id);
    for (const value of [collateral - 1n, collateral + 1n, 0n]) {
      await reverts(fillTx(id, 1, hosts[1], { value }), 'CollateralMismatch');
    }
    await reverts(market.connect(hosts[1]).fillSlot(99, 0, '0x', { period: 0, segment: '0x', path: [] }), 'RequestNotFound');
  });

  it('admits only the consumer the placer chose, for that slot and round', async () => {
    const { id } = await request();
    const wrong = (permitFor) => async () => {
      const period = await roomInPeriod(chain.provider, market, 1);
      const permit = await permitFor();
      return market.connect(hosts[0]).fillSlot(id, 0, permit, await proofFor(id, 0, period),
                                               { value: await market.slotCollateral(id) });
    };
    const cases = [
      () => signPermit(outsider, market, id, 0, hosts[0].address, 0), // not the placer
      () => signPermit(placer, market, id, 0, hosts[1].address, 0), // another consumer
      () => signPermit(placer, market, id, 1, hosts[0].address, 0), // another slot
      () => signPermit(placer, market, id, 0, hosts[0].address, 1), // another round
      async () => '0x', // none
      async () => flip(await signPermit(placer, market, id, 0, hosts[0].address, 0), 10), // damaged
      async () => { // the malleable twin (s' = n − s, v flipped): refused like any non-canonical signature
        const sig = ethers.Signature.from(await signPermit(placer, market, id, 0, hosts[0].address, 0));
        const n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141n;
        return ethers.concat([sig.r, ethers.toBeHex(n - BigInt(sig.s), 32), sig.v === 27 ? '0x1c' : '0x1b']);
      },
    ];
    for (const permit of cases) await reverts(wrong(permit)(), 'NotChosenByPlacer');
    // The digest the contract checks is EIP-712's, as ethers computes it independently.
    const domain = { name: 'Open Bucket StorageMarket', version: '1', chainId: 31337, verifyingContract: await market.getAddress() };
    const types = { FillPermit: [{ name: 'requestId', type: 'uint256' }, { name: 'slotIndex', type: 'uint256' },
      { name: 'host', type: 'address' }, { name: 'round', type: 'uint16' }] };
    assert.equal(await market.fillPermitDigest(id, 0, hosts[0].address, 0),
                 ethers.TypedDataEncoder.hash(domain, types, { requestId: id, slotIndex: 0, host: hosts[0].address, round: 0 }));
    await fill(id, 0, hosts[0]); // the right permit works
  });

  it('lets anyone fill when the request names no placer', async () => {
    const { id } = await request({ placer: ethers.ZeroAddress });
    const period = await roomInPeriod(chain.provider, market, 1);
    await ledger.send(market.connect(outsider).fillSlot(id, 2, '0x', await proofFor(id, 2, period),
                                                         { value: await market.slotCollateral(id) }));
    assert.equal((await market.getSlot(id, 2)).host, outsider.address);
  });

  it('refuses a proof with any flipped bit, for another slot, segment or period, or of the wrong length', async () => {
    const { id } = await request();
    // Refused calls mine no block, so every attempt below answers the same period's challenge.
    const period = await roomInPeriod(chain.provider, market, 1);
    const [, challenged] = await market.getChallenge(id, 0, period);
    const segment = Number(challenged);
    const good = await proofFor(id, 0, period);
    const permit = await signPermit(placer, market, id, 0, hosts[0].address, 0);
    const collateral = await market.slotCollateral(id);
    const attempt = (proof) => market.connect(hosts[0]).fillSlot(id, 0, permit, proof, { value: collateral });
    const from = (slot, seg) => {
      const p = file.prove(slot, seg);
      return { ...good, segment: p.data, path: p.path };
    };
    const bad = [
      ['data, first bit', { ...good, segment: flip(good.segment, 0) }],
      ['data, a middle bit', { ...good, segment: flip(good.segment, 512, 7) }],
      ['data, last bit', { ...good, segment: flip(good.segment, 1023, 7) }],
      ...good.path.map((_, k) => [`path[${k}]`, { ...good, path: good.path.map((h, j) => (j === k ? flip(h, 31) : h)) }]),
      ['a sibling too many', { ...good, path: [...good.path, ethers.ZeroHash] }],
      ['a sibling too few', { ...good, path: good.path.slice(0, -1) }],
      ['no path', { ...good, path: [] }],
      ['a short segment', { ...good, segment: ethers.dataSlice(good.segment, 0, 1023) }],
      ['another segment', from(0, (segment + 1) % file.info.segmentsPerSlot)],
      ['the same segment of another slot', from(1, segment)],
    ];
    // The previous period's challenge, answered as if it were this one's.
    if (period > 0n) {
      const [, earlier] = await market.getChallenge(id, 0, period - 1n);
      if (Number(earlier) !== segment) bad.push(['the previous period\'s segment', from(0, Number(earlier))]);
    }
    for (const [what, proof] of bad) {
      await assert.doesNotReject(reverts(attempt(proof), 'InvalidProof'), what);
    }
    for (const other of [period + 2n, period + 1n, ...(period > 0n ? [period - 1n] : [])]) {
      const [given, current] = await reverts(attempt({ ...good, period: other }), 'WrongPeriod');
      assert.deepEqual([given, current], [other, period]);
    }
    await ledger.send(attempt(good)); // and the untouched proof is accepted
    await ledger.check([id], assert);
  });
});

const mark = (id, slot, period, who = validator) => market.connect(who).markProofAsMissing(id, slot, period);

describe('submitProof', () => {
  it('takes one proof per period from the host, built by open-bucket', async () => {
    const { id } = await request();
    await fillAll(id);
    // The fill's proof answers its period.
    await roomInPeriod(chain.provider, market, 2);
    const { id: id2 } = await request();
    await fill(id2, 0, hosts[0]);
    const filled = (await market.getSlot(id2, 0)).filledPeriod;
    assert.equal(await market.currentPeriod(), filled);
    await reverts(market.connect(hosts[0]).submitProof(id2, 0, await proofFor(id2, 0, filled)), 'ProofAlreadySubmitted');
    assert.deepEqual([...await market.proofStatus(id2, 0, filled)], [true, false]);

    const p = await nextPeriod();
    await prove(id, 0, hosts[0]);
    const event = ledger.events.findLast((e) => e.name === 'ProofSubmitted');
    assert.deepEqual([event.args.requestId, event.args.slotIndex, event.args.period], [id, 0n, p]);
    assert.deepEqual([...await market.proofStatus(id, 0, p)], [true, false]);
    await reverts(prove(id, 0, hosts[0]), 'ProofAlreadySubmitted');
    await reverts(prove(id, 1, hosts[0]), 'NotSlotHost');
    await reverts(prove(id2, 1, hosts[1]), 'SlotNotFilled');
    await reverts(prove(id, 5, hosts[0]), 'SlotOutOfRange');
    const good = await proofFor(id, 1, p);
    await reverts(market.connect(hosts[1]).submitProof(id, 1, { ...good, segment: flip(good.segment, 100, 3) }), 'InvalidProof');
    await reverts(market.connect(hosts[1]).submitProof(id, 1, { ...good, path: good.path.map((h, j) => (j === good.path.length - 1 ? flip(h, 0) : h)) }), 'InvalidProof');
    await reverts(market.connect(hosts[1]).submitProof(id, 1, { ...good, period: p - 1n }), 'WrongPeriod');
    await ledger.send(market.connect(hosts[1]).submitProof(id, 1, good));
    // A proof kept from this period is refused in the next.
    await nextPeriod();
    await reverts(market.connect(hosts[2]).submitProof(id, 2, await proofFor(id, 2, p)), 'WrongPeriod');
    await ledger.check([id, id2], assert);
  });
});

describe('markProofAsMissing', () => {
  it('slashes a missed proof once, after its period and within the timeout, and pays the validator', async () => {
    const { id } = await request();
    await fillAll(id);
    const collateral = await market.slotCollateral(id);
    const fillPeriod = (await market.getSlot(id, 2)).filledPeriod; // the last fill's
    const p = await nextPeriod();
    assert.equal(p, fillPeriod + 1n);
    await reverts(mark(id, 2, fillPeriod), 'ProofNotRequired'); // the fill's proof answered it
    await prove(id, 0, hosts[0]);
    const [given, current] = await reverts(mark(id, 1, p), 'PeriodNotEnded');
    assert.deepEqual([given, current], [p, p]);
    await nextPeriod();
    await reverts(mark(id, 0, p), 'ProofWasSubmitted');
    await ledger.send(mark(id, 1, p));
    const missed = ledger.events.findLast((e) => e.name === 'ProofMissed');
    const slashed = collateral * 10n / 100n;
    const reward = slashed * 20n / 100n;
    assert.equal(missed.args.slashed, slashed);
    assert.equal(missed.args.reward, reward);
    assert.equal(missed.args.validator, validator.address);
    assert.equal(await market.withdrawable(validator.address), reward);
    const s = await market.getSlot(id, 1);
    assert.equal(s.collateral, collateral - slashed);
    assert.equal(s.slashes, 1n);
    assert.equal((await market.getRequest(id)).forfeited, slashed - reward);
    assert.deepEqual([...await market.proofStatus(id, 1, p)], [false, true]);
    await reverts(mark(id, 1, p), 'AlreadyMarkedMissing');
    // Period p + 1 was missed too, but nobody marked it before its timeout ran out.
    await mineToPeriod(chain.provider, market, p + 2n);
    await mine(chain.provider, Number(await market.proofTimeout()));
    await reverts(mark(id, 1, p + 1n), 'ValidationTimedOut');
    await ledger.check([id], assert);
  });

  it('removes a host after maxSlashes; the slot is repaired by a new consumer who earns the repair reward', async () => {
    const { id, ask: a } = await request();
    await fillAll(id);
    const collateral = await market.slotCollateral(id);
    for (let i = 0; i < 3; ++i) {
      const p = await nextPeriod();
      await nextPeriod();
      await ledger.send(mark(id, 2, p));
    }
    const freed = ledger.events.findLast((e) => e.name === 'SlotFreed');
    const slashed = collateral * 10n / 100n;
    assert.equal(freed.args.host, hosts[2].address);
    assert.equal(Number(freed.args.state), SlotState.Repair);
    assert.equal(freed.args.removed, true);
    assert.equal(freed.args.forfeited, collateral - 3n * slashed);
    assert.equal(Number((await market.getSlot(id, 2)).state), SlotState.Repair);
    const r = await market.getRequest(id);
    assert.equal(Number(r.state), RequestState.Started);
    assert.equal(r.filled, 2n);
    assert.equal(r.forfeited, collateral - 3n * (slashed * 20n / 100n));
    // A removed host is not paid for the time it held the slot unproven: its pay stays in escrow.
    assert.ok(!ledger.events.some((e) => e.name === 'PaymentSettled' && e.args.host === hosts[2].address));
    assert.equal(r.escrow, escrowOf(a));
    await reverts(mark(id, 2, (await market.currentPeriod()) - 1n), 'SlotNotFilled');
    // Only a permit for the next round admits anyone, and the old host's is spent.
    await reverts(fillTx(id, 2, hosts[2], { round: 0 }), 'NotChosenByPlacer');
    await reverts(fillTx(id, 2, outsider, { round: 0 }), 'NotChosenByPlacer');
    await fill(id, 2, outsider, { round: 1 });
    const filled = ledger.events.findLast((e) => e.name === 'SlotFilled');
    assert.equal(filled.args.round, 1n);
    assert.equal(filled.args.repairReward, collateral * 50n / 100n);
    assert.equal(await market.withdrawable(outsider.address), collateral * 50n / 100n);
    const s = await market.getSlot(id, 2);
    assert.equal(s.host, outsider.address);
    assert.equal(Number(s.state), SlotState.Filled);
    assert.equal((await market.getRequest(id)).filled, 3n);
    await ledger.check([id], assert);
  });

  it('challenges a slot with probability 1/proofProbability, alike for the prover and the validator', async () => {
    const { id } = await request({ proofProbability: 4 });
    await fillAll(id);
    let required = 0;
    let periods = 0;
    for (let i = 0; i < 40; ++i) {
      const p = await nextPeriod();
      const [during, segment] = await market.getChallenge(id, 1, p);
      await mine(chain.provider, 3);
      assert.deepEqual([...await market.getChallenge(id, 1, p)], [during, segment], 'fixed through the period');
      await nextPeriod();
      assert.deepEqual([...await market.getChallenge(id, 1, p)], [during, segment], 'the same for the validator');
      if (during) {
        await market.connect(validator).markProofAsMissing.staticCall(id, 1, p); // would slash
        ++required;
      } else {
        await reverts(market.connect(validator).markProofAsMissing.staticCall(id, 1, p), 'ProofNotRequired');
      }
      ++periods;
    }
    assert.ok(required > 0 && required < periods, `${required} of ${periods} periods required a proof`);
  });
});

describe('freeSlot', () => {
  it('before the start: the slot is Freed for another consumer; the host keeps its pay and forfeits collateral', async () => {
    const { id, ask: a } = await request();
    const filled = await fill(id, 0, hosts[0]);
    await increaseTime(chain.provider, 500);
    await reverts(market.connect(hosts[1]).freeSlot(id, 0), 'NotSlotHost');
    await reverts(market.connect(hosts[1]).freeSlot(id, 1), 'SlotNotFilled');
    const freedAt = await ledger.send(market.connect(hosts[0]).freeSlot(id, 0));
    const rate = BigInt(a.slotSize) * a.pricePerByteSecond;
    const paid = ledger.events.findLast((e) => e.name === 'PaymentSettled');
    assert.equal(paid.args.amount, (await blockTime(freedAt) - await blockTime(filled)) * rate);
    const freed = ledger.events.findLast((e) => e.name === 'SlotFreed');
    assert.equal(Number(freed.args.state), SlotState.Freed);
    assert.equal(freed.args.removed, false);
    assert.equal(freed.args.forfeited, await market.slotCollateral(id));
    assert.equal(await market.withdrawable(hosts[0].address), paid.args.amount);
    await fill(id, 0, hosts[1], { round: 1 });
    assert.equal(ledger.events.findLast((e) => e.name === 'SlotFilled').args.repairReward, 0n);
    await ledger.check([id], assert);
  });

  it('below k held slots the request fails: the remaining hosts are paid and get their collateral', async () => {
    const { id, ask: a } = await request();
    await fillAll(id);
    await increaseTime(chain.provider, 1_000);
    await ledger.send(market.connect(hosts[2]).freeSlot(id, 2));
    assert.equal(Number((await market.getSlot(id, 2)).state), SlotState.Repair);
    assert.equal(Number(await market.requestState(id)), RequestState.Started);
    await ledger.send(market.connect(hosts[1]).freeSlot(id, 1));
    assert.equal(Number(await market.requestState(id)), RequestState.Failed);
    const ended = ledger.events.findLast((e) => e.name === 'RequestEnded');
    assert.equal(Number(ended.args.state), RequestState.Failed);
    const paid = ledger.events.findLast((e) => e.name === 'SlotPaid');
    assert.equal(paid.args.host, hosts[0].address);
    assert.equal(paid.args.collateral, await market.slotCollateral(id));
    assert.equal(Number((await market.getSlot(id, 0)).state), SlotState.Paid);
    // The refund is the escrow nobody earned plus the two forfeited collaterals.
    const earned = ledger.sum('PaymentSettled', 'amount') + ledger.sum('SlotPaid', 'pay');
    assert.equal(ended.args.refund, escrowOf(a) - earned + 2n * await market.slotCollateral(id));
    await reverts(fillTx(id, 1, hosts[1], { round: 1 }), 'RequestNotRunning');
    await withdrawAllAndCheck(id);
  });
});

/// Everyone withdraws what they are owed; then the books must balance and the contract be empty.
async function withdrawAllAndCheck(id) {
  for (const who of [producer, ...hosts, validator, outsider, placer]) {
    if (await market.withdrawable(who.address) > 0n) await ledger.send(market.connect(who).withdraw());
  }
  await ledger.check([id], assert);
  assert.equal(await chain.provider.getBalance(await market.getAddress()), 0n);
}

describe('ending a request', () => {
  it("cancel (the producer's rm): hosts keep their pay and collateral, the rest returns to the producer", async () => {
    const { id, ask: a } = await request();
    const fills = await fillAll(id);
    await increaseTime(chain.provider, 1_000);
    await reverts(market.connect(outsider).cancel(id), 'NotClient');
    await reverts(market.connect(hosts[0]).cancel(id), 'NotClient');
    const cancelled = await ledger.send(market.connect(producer).cancel(id));
    const t = await blockTime(cancelled);
    const rate = BigInt(a.slotSize) * a.pricePerByteSecond;
    let pay = 0n;
    for (let i = 0; i < 3; ++i) {
      const e = ledger.events.find((x) => x.name === 'SlotPaid' && x.args.slotIndex === BigInt(i));
      assert.equal(e.args.pay, (t - await blockTime(fills[i])) * rate);
      assert.equal(e.args.collateral, await market.slotCollateral(id));
      pay += e.args.pay;
    }
    const ended = ledger.events.findLast((e) => e.name === 'RequestEnded');
    assert.equal(Number(ended.args.state), RequestState.Cancelled);
    assert.equal(ended.args.refund, escrowOf(a) - pay);
    await reverts(market.connect(producer).cancel(id), 'RequestNotRunning');
    await reverts(market.connect(producer).confirmDownload(id), 'RequestNotRunning');
    await reverts(market.connect(hosts[0]).freeSlot(id, 0), 'RequestNotRunning');
    await reverts(mark(id, 0, 0n), 'RequestNotRunning');
    await withdrawAllAndCheck(id);
    await reverts(market.connect(producer).withdraw(), 'NothingToWithdraw'); // a second withdraw
  });

  it('a request not filled by its expiry is cancelled; its early host is paid to the expiry', async () => {
    const { id, ask: a } = await request();
    const filled = await fill(id, 0, hosts[0]);
    await reverts(market.connect(outsider).close(id), 'RequestNotEnded');
    await increaseTime(chain.provider, 3_600);
    assert.equal(Number(await market.requestState(id)), RequestState.Cancelled);
    await reverts(fillTx(id, 1, hosts[1]), 'RequestNotRunning');
    await ledger.send(market.connect(outsider).close(id));
    const r = await market.getRequest(id);
    assert.equal(Number(r.state), RequestState.Cancelled);
    const rate = BigInt(a.slotSize) * a.pricePerByteSecond;
    const paid = ledger.events.find((e) => e.name === 'SlotPaid');
    assert.equal(paid.args.pay, (r.expiresAt - await blockTime(filled)) * rate);
    assert.equal(ledger.events.findLast((e) => e.name === 'RequestEnded').args.refund, escrowOf(a) - paid.args.pay);
    await reverts(market.connect(outsider).close(id), 'RequestNotRunning');
    await withdrawAllAndCheck(id);
  });

  it('a request that runs its duration finishes; downloads confirmed on the way pay the hosts early', async () => {
    const { id, ask: a } = await request();
    const fills = await fillAll(id);
    await increaseTime(chain.provider, 10_000);
    const rate = BigInt(a.slotSize) * a.pricePerByteSecond;
    const now = BigInt((await chain.provider.getBlock('latest')).timestamp);
    for (let i = 0; i < 3; ++i) assert.equal(await market.accruedPay(id, i), (now - await blockTime(fills[i])) * rate);
    await reverts(market.connect(outsider).confirmDownload(id), 'NotClientOrPlacer');
    await reverts(market.connect(hosts[0]).confirmDownload(id), 'NotClientOrPlacer');
    await ledger.send(market.connect(producer).confirmDownload(id));
    assert.equal(ledger.events.filter((e) => e.name === 'PaymentSettled').length, 3);
    for (let i = 0; i < 3; ++i) assert.ok(await market.withdrawable(hosts[i].address) > 0n);
    await ledger.send(market.connect(hosts[0]).withdraw()); // a host withdraws mid-request
    await increaseTime(chain.provider, 1_000);
    await ledger.send(market.connect(placer).confirmDownload(id)); // the tracker may confirm too
    await ledger.check([id], assert);

    await increaseTime(chain.provider, 86_400);
    assert.equal(Number(await market.requestState(id)), RequestState.Finished);
    await reverts(prove(id, 0, hosts[0]), 'RequestNotRunning');
    await reverts(market.connect(producer).cancel(id), 'RequestNotRunning');
    await ledger.send(market.connect(hosts[1]).close(id));
    const r = await market.getRequest(id);
    assert.equal(Number(r.state), RequestState.Finished);
    let earned = 0n;
    for (let i = 0; i < 3; ++i) {
      const paid = ledger.events.filter((e) => (e.name === 'PaymentSettled' || e.name === 'SlotPaid') && e.args.slotIndex === BigInt(i))
        .reduce((acc, e) => acc + (e.name === 'SlotPaid' ? e.args.pay : e.args.amount), 0n);
      assert.equal(paid, (r.endsAt - await blockTime(fills[i])) * rate, `slot ${i} is paid from its fill to the end`);
      assert.equal(Number((await market.getSlot(id, i)).state), SlotState.Paid);
      earned += paid;
    }
    assert.equal(ledger.events.findLast((e) => e.name === 'RequestEnded').args.refund, escrowOf(a) - earned);
    await withdrawAllAndCheck(id);
    await reverts(market.connect(hosts[0]).withdraw(), 'NothingToWithdraw'); // a second withdraw
  });
});

describe('withdraw', () => {
  it('pays once to a contract that re-enters it, and keeps the balance of one that refuses Ether', async () => {
    const { compile } = await import('../build.mjs');
    const { readFileSync } = await import('node:fs');
    const source = (name) => readFileSync(new URL(name, import.meta.url), 'utf8');
    const out = compile({ 'StorageMarket.sol': source('../StorageMarket.sol'), 'Reentrant.sol': source('./Reentrant.sol') },
                        { evmVersion: 'cancun', outputSelection: { 'Reentrant.sol': { Reentrant: ['abi', 'evm.bytecode.object'] } } });
    const { abi, evm } = out.contracts['Reentrant.sol'].Reentrant;
    const factory = new ethers.ContractFactory(abi, evm.bytecode.object, producer);
    const a = ask();
    await request(); // other people's money in the contract: what a second payout would take

    for (const refuse of [false, true]) {
      const client = await factory.deploy(await market.getAddress(), refuse);
      await client.waitForDeployment();
      const clientAddress = await client.getAddress();
      await ledger.send(client.open(nonce(), a, { value: escrowOf(a) }));
      const id = ledger.events.findLast((e) => e.name === 'StorageRequested').args.requestId;
      await ledger.send(client.cancel(id));
      assert.equal(await market.withdrawable(clientAddress), escrowOf(a));
      const held = await chain.provider.getBalance(await market.getAddress());
      if (refuse) {
        await reverts(client.withdraw(), 'TransferFailed');
        assert.equal(await market.withdrawable(clientAddress), escrowOf(a), 'nothing lost');
        assert.equal(await chain.provider.getBalance(await market.getAddress()), held);
      } else {
        await ledger.send(client.withdraw());
        assert.equal(await client.reentries(), 1n);
        assert.equal(await client.reentryReverted(), true);
        assert.equal(await chain.provider.getBalance(clientAddress), escrowOf(a));
        assert.equal(await market.withdrawable(clientAddress), 0n);
        assert.equal(await chain.provider.getBalance(await market.getAddress()), held - escrowOf(a));
      }
    }
  });
});
