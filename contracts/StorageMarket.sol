// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.37;

/// @title Open Bucket's storage market (docs/market.md)
/// @notice One contract per network. Each file's "contract" of seed 000 is a storage request in
/// it: the producer (client) escrows n × slotSize × duration × price wei for the n slots of an
/// erasure-coded file; consumers (hosts) fill the slots with collateral and a first proof, then
/// prove in every period in which they are challenged that they still hold their slot; a missed
/// proof is slashed; pay accrues per second per filled slot and is settled into withdrawable
/// balances, which `withdraw` pays out (pull payments only).
///
/// Proofs: one 1 KiB segment of the slot and its SHA-256 Merkle path segment → block → slot →
/// dataset root, the trees of coding/merkle.h (docs/formats.md "Merkle trees"):
///   leaf = sha256(0x00 ‖ segment), node = sha256(0x01 ‖ left ‖ right), odd last node promoted.
/// Periods are counted in blocks from deployment, so the challenge of a period is fixed when the
/// period begins (the hash of the block just before it), the same for prover and validator, and
/// available through the period and its validation timeout (period + timeout <= 256 blocks).
contract StorageMarket {
    // ---- types --------------------------------------------------------------------------------

    /// New: filling; Started: all n slots were filled; Cancelled: the client's cancel, or expiry
    /// with slots unfilled; Finished: its duration ran out; Failed: fewer than k slots held.
    /// Transitions (all through _setState):
    ///   New     -> Started (n-th fill) | Cancelled (cancel; close after expiry)
    ///   Started -> Cancelled (cancel) | Finished (close after the end) | Failed (below k held)
    enum RequestState {
        New,
        Started,
        Cancelled,
        Finished,
        Failed
    }

    /// Free: never filled; Filled: a host holds it; Freed: its host left (or was removed) before the
    /// request started; Repair: its host left (or was removed) after, and the next host earns the
    /// repair reward; Paid: the request ended and the host got its final pay and collateral.
    /// Transitions: Free | Freed | Repair -> Filled (fillSlot); Filled -> Freed | Repair (_vacate:
    /// freeSlot, or maxSlashes); Filled -> Paid (_close). A slot not held when its request ends
    /// stays as it is; the request's state says it is over.
    enum SlotState {
        Free,
        Filled,
        Freed,
        Repair,
        Paid
    }

    /// What a producer asks for (requestStorage). Sizes in bytes, times in seconds, prices in wei.
    struct StorageAsk {
        bytes manifestCid; // the file ID (binary CIDv1 of the manifest), 1..128 bytes
        bytes32 datasetRoot; // Merkle root over the n slot roots (docs/formats.md)
        uint8 n; // slots (k data + m parity)
        uint8 k; // slots needed to read the file; the request fails below k
        uint32 blockSize; // multiple of 1024, at most 4 MiB
        uint64 slotSize; // a multiple of blockSize: blocks per slot × blockSize
        uint64 duration; // seconds from the request until it finishes
        uint64 expiry; // seconds from the request within which all n slots must fill (< duration)
        uint96 pricePerByteSecond; // wei per byte of slot per second
        uint96 collateralPerByte; // wei per byte of slot, paid by each host at fill
        uint16 proofProbability; // a slot is challenged in a period with probability 1/this
        address placer; // the tracker that chooses hosts (signs fill permits); 0: anyone may fill
    }

    struct Request {
        address client;
        RequestState state;
        uint8 n;
        uint8 k;
        uint8 filled; // slots held now
        uint32 blockSize;
        uint16 proofProbability;
        address placer;
        uint64 slotSize;
        uint64 expiresAt;
        uint64 endsAt;
        uint64 startedAt; // 0 until Started
        uint96 pricePerByteSecond;
        uint96 collateralPerByte;
        bytes32 datasetRoot;
        uint256 escrow; // escrow not yet paid to hosts
        uint256 forfeited; // collateral slashed or forfeited, not yet paid out
        bytes manifestCid;
    }

    struct Slot {
        address host; // the current host, or the last one
        SlotState state;
        uint8 slashes; // missed proofs of the current host
        uint16 round; // fills so far: the round a fill permit must name
        uint64 paidUntil; // pay is settled up to this time (seconds)
        uint128 collateral; // the current host's collateral left
        uint64 filledPeriod; // the period of the current host's fill (its proof counts for it)
    }

    /// A proof of storage: the challenged segment of the slot in `period` and its path.
    struct Proof {
        uint64 period;
        bytes segment; // 1024 bytes
        bytes32[] path; // siblings bottom-up: inside the block, the block in the slot, the slot in the dataset
    }

    // ---- errors (each names what was wrong; the C++ client turns them into one clear line) ------

    error InvalidConfig();
    error InvalidSlots(uint8 n, uint8 k);
    error InvalidBlockSize(uint32 blockSize);
    error InvalidSlotSize(uint64 slotSize);
    error InvalidDuration(uint64 duration, uint64 expiry);
    error InvalidPrice();
    error InvalidProbability();
    error InvalidManifest();
    error EscrowMismatch(uint256 expected, uint256 sent);
    error DuplicateRequest(uint256 requestId);
    error RequestNotFound(uint256 requestId);
    error RequestNotRunning(uint256 requestId, RequestState state);
    error RequestNotEnded(uint256 requestId);
    error NotClient();
    error NotClientOrPlacer();
    error SlotOutOfRange(uint256 slotIndex, uint8 n);
    error SlotNotFree(SlotState state);
    error SlotNotFilled(SlotState state);
    error NotSlotHost();
    error NotChosenByPlacer();
    error CollateralMismatch(uint256 expected, uint256 sent);
    error WrongPeriod(uint64 given, uint64 current);
    error InvalidProof();
    error ProofAlreadySubmitted();
    error PeriodNotEnded(uint64 period, uint64 current);
    error ValidationTimedOut(uint64 period);
    error ProofNotRequired();
    error ProofWasSubmitted();
    error AlreadyMarkedMissing();
    error ChallengeUnavailable(uint64 period);
    error NothingToWithdraw();
    error TransferFailed();

    // ---- events: one for every change of state or money --------------------------------------

    event StorageRequested(
        uint256 indexed requestId,
        address indexed client,
        bytes32 nonce,
        bytes manifestCid,
        bytes32 datasetRoot,
        uint256 escrow,
        uint64 expiresAt,
        uint64 endsAt
    );
    event SlotFilled(
        uint256 indexed requestId, uint256 slotIndex, address indexed host, uint16 round, uint256 repairReward
    );
    event RequestStarted(uint256 indexed requestId);
    event ProofSubmitted(uint256 indexed requestId, uint256 slotIndex, uint64 period);
    event ProofMissed(
        uint256 indexed requestId, uint256 slotIndex, uint64 period, address indexed validator, uint256 slashed, uint256 reward
    );
    /// A host left (`removed` false: freeSlot) or was removed after maxSlashes missed proofs.
    event SlotFreed(
        uint256 indexed requestId, uint256 slotIndex, address indexed host, SlotState state, bool removed, uint256 forfeited
    );
    event PaymentSettled(uint256 indexed requestId, uint256 slotIndex, address indexed host, uint256 amount);
    event SlotPaid(uint256 indexed requestId, uint256 slotIndex, address indexed host, uint256 pay, uint256 collateral);
    event RequestEnded(uint256 indexed requestId, RequestState state, uint256 refund);
    event Withdrawn(address indexed account, uint256 amount);

    // ---- parameters, set at deploy --------------------------------------------------------------

    uint256 public constant SEGMENT_SIZE = 1024;
    uint256 public constant MAX_BLOCK_SIZE = 4 << 20;
    uint64 public constant MAX_DURATION = 1 << 40; // seconds: keeps every product below 2^256
    uint256 private constant MAX_CID_SIZE = 128;
    /// secp256k1's group order / 2: a larger s is the malleable twin of a valid signature.
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    bytes32 private constant FILL_PERMIT_TYPEHASH =
        keccak256("FillPermit(uint256 requestId,uint256 slotIndex,address host,uint16 round)");
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /// Blocks per proof period.
    uint64 public immutable proofPeriod;
    /// Blocks after a period's end during which its missed proofs may be marked.
    uint64 public immutable proofTimeout;
    /// Percent of a slot's collateral slashed per missed proof.
    uint8 public immutable slashPercent;
    /// Missed proofs after which the host is removed and its slot freed for repair.
    uint8 public immutable maxSlashes;
    /// Percent of each slash paid to the validator that marked the proof missing.
    uint8 public immutable validatorPercent;
    /// Percent of a slot's collateral paid (from forfeited collateral) to the host that repairs it.
    uint8 public immutable repairRewardPercent;
    /// Period 0 begins at this block (the deployment's).
    uint256 public immutable zeroBlock;

    uint256 private immutable _deployChainId;
    bytes32 private immutable _deployDomainSeparator;

    // ---- state ----------------------------------------------------------------------------------

    uint256 public requestCount;
    mapping(uint256 => Request) private _requests;
    mapping(bytes32 => Slot) private _slots; // by slotId(requestId, slotIndex)
    mapping(bytes32 => uint256) private _requestIds; // keccak(client, nonce) -> requestId
    /// Two bits per slot and period: 1 = proof submitted, 2 = marked missing; 128 periods a word.
    mapping(bytes32 => mapping(uint256 => uint256)) private _marks;
    /// Wei each account may withdraw.
    mapping(address => uint256) public withdrawable;

    constructor(
        uint64 proofPeriod_,
        uint64 proofTimeout_,
        uint8 slashPercent_,
        uint8 maxSlashes_,
        uint8 validatorPercent_,
        uint8 repairRewardPercent_
    ) {
        // The challenge of a period is the hash of the block before it; the EVM keeps 256.
        if (proofPeriod_ == 0 || proofTimeout_ == 0 || uint256(proofPeriod_) + proofTimeout_ > 256) {
            revert InvalidConfig();
        }
        // Slashes never take more than the collateral there is.
        if (slashPercent_ == 0 || maxSlashes_ == 0 || uint256(slashPercent_) * maxSlashes_ > 100) {
            revert InvalidConfig();
        }
        if (validatorPercent_ > 100 || repairRewardPercent_ > 100) revert InvalidConfig();
        proofPeriod = proofPeriod_;
        proofTimeout = proofTimeout_;
        slashPercent = slashPercent_;
        maxSlashes = maxSlashes_;
        validatorPercent = validatorPercent_;
        repairRewardPercent = repairRewardPercent_;
        zeroBlock = block.number;
        _deployChainId = block.chainid;
        _deployDomainSeparator = _buildDomainSeparator();
    }

    // ---- the producer ---------------------------------------------------------------------------

    /// @notice Opens a storage request and escrows its price: msg.value must be exactly
    /// n × slotSize × duration × pricePerByteSecond. `nonce` is the client's choice; a second
    /// request with the same nonce reverts, so a client that resends after a lost reply is never
    /// charged twice (requestIdOf finds the first).
    function requestStorage(bytes32 nonce, StorageAsk calldata ask) external payable returns (uint256 requestId) {
        bytes32 key = keccak256(abi.encode(msg.sender, nonce));
        if (_requestIds[key] != 0) revert DuplicateRequest(_requestIds[key]);
        if (ask.n == 0 || ask.k == 0 || ask.k > ask.n) revert InvalidSlots(ask.n, ask.k);
        if (ask.blockSize == 0 || ask.blockSize % SEGMENT_SIZE != 0 || ask.blockSize > MAX_BLOCK_SIZE) {
            revert InvalidBlockSize(ask.blockSize);
        }
        if (ask.slotSize == 0 || ask.slotSize % ask.blockSize != 0) revert InvalidSlotSize(ask.slotSize);
        if (ask.duration > MAX_DURATION || ask.expiry == 0 || ask.expiry >= ask.duration) {
            revert InvalidDuration(ask.duration, ask.expiry);
        }
        if (ask.pricePerByteSecond == 0) revert InvalidPrice();
        if (ask.proofProbability == 0) revert InvalidProbability();
        if (ask.manifestCid.length == 0 || ask.manifestCid.length > MAX_CID_SIZE || ask.datasetRoot == 0) {
            revert InvalidManifest();
        }
        // < 2^8 · 2^64 · 2^40 · 2^96: no overflow.
        uint256 escrow = uint256(ask.n) * ask.slotSize * ask.duration * ask.pricePerByteSecond;
        if (msg.value != escrow) revert EscrowMismatch(escrow, msg.value);

        requestId = ++requestCount;
        _requestIds[key] = requestId;
        Request storage r = _requests[requestId];
        r.client = msg.sender;
        r.state = RequestState.New;
        r.n = ask.n;
        r.k = ask.k;
        r.blockSize = ask.blockSize;
        r.proofProbability = ask.proofProbability;
        r.placer = ask.placer;
        r.slotSize = ask.slotSize;
        r.expiresAt = uint64(block.timestamp) + ask.expiry;
        r.endsAt = uint64(block.timestamp) + ask.duration;
        r.pricePerByteSecond = ask.pricePerByteSecond;
        r.collateralPerByte = ask.collateralPerByte;
        r.datasetRoot = ask.datasetRoot;
        r.escrow = escrow;
        r.manifestCid = ask.manifestCid;
        emit StorageRequested(
            requestId, msg.sender, nonce, ask.manifestCid, ask.datasetRoot, escrow, r.expiresAt, r.endsAt
        );
    }

    /// @notice Seed 000's payout after a download: settles what every host has earned so far into
    /// its withdrawable balance. By the client or its placer (the tracker), while the request runs.
    function confirmDownload(uint256 requestId) external {
        Request storage r = _running(requestId);
        if (msg.sender != r.client && msg.sender != r.placer) revert NotClientOrPlacer();
        uint256 rate = _slotRate(r);
        uint256 paid;
        for (uint256 i = 0; i < r.n; ++i) {
            Slot storage s = _slots[slotId(requestId, i)];
            if (s.state == SlotState.Filled) paid += _settle(requestId, i, s, rate, block.timestamp);
        }
        r.escrow -= paid;
    }

    /// @notice The producer's `rm`: ends the request now. Hosts keep what they earned and get their
    /// collateral back; the rest of the escrow (and any forfeited collateral) returns to the client.
    function cancel(uint256 requestId) external {
        Request storage r = _running(requestId);
        if (msg.sender != r.client) revert NotClient();
        _close(requestId, r, RequestState.Cancelled, block.timestamp);
    }

    /// @notice Ends a request whose time is up; anyone may call. Started and past its end:
    /// Finished, hosts paid to the end. New and past its expiry (never all filled): Cancelled,
    /// hosts paid to the expiry. Every host gets its collateral back; the rest goes to the client.
    function close(uint256 requestId) external {
        Request storage r = _request(requestId);
        if (r.state == RequestState.New && block.timestamp >= r.expiresAt) {
            _close(requestId, r, RequestState.Cancelled, r.expiresAt);
        } else if (r.state == RequestState.Started && block.timestamp >= r.endsAt) {
            _close(requestId, r, RequestState.Finished, r.endsAt);
        } else if (r.state == RequestState.New || r.state == RequestState.Started) {
            revert RequestNotEnded(requestId);
        } else {
            revert RequestNotRunning(requestId, r.state);
        }
    }

    // ---- the consumer (host) --------------------------------------------------------------------

    /// @notice Fills a free slot: msg.value is the collateral (slotSize × collateralPerByte),
    /// `permit` the placer's EIP-712 FillPermit for (requestId, slotIndex, msg.sender, round) —
    /// empty when the request has no placer — and `proof` answers the current period's challenge.
    /// The request starts when all n slots are held. A repair fill earns the repair reward.
    function fillSlot(uint256 requestId, uint256 slotIndex, bytes calldata permit, Proof calldata proof)
        external
        payable
    {
        Request storage r = _running(requestId);
        if (slotIndex >= r.n) revert SlotOutOfRange(slotIndex, r.n);
        bytes32 id = slotId(requestId, slotIndex);
        Slot storage s = _slots[id];
        SlotState prior = s.state;
        if (prior == SlotState.Filled || prior == SlotState.Paid) revert SlotNotFree(prior);
        uint16 round = s.round;
        if (r.placer != address(0)) _checkPermit(r.placer, requestId, slotIndex, round, permit);
        uint256 collateral = uint256(r.slotSize) * r.collateralPerByte;
        if (msg.value != collateral) revert CollateralMismatch(collateral, msg.value);
        uint64 period = currentPeriod();
        if (proof.period != period) revert WrongPeriod(proof.period, period);
        _checkProof(r, requestId, slotIndex, proof);

        _slots[id] = Slot({
            host: msg.sender,
            state: SlotState.Filled,
            slashes: 0,
            round: round + 1,
            paidUntil: uint64(block.timestamp),
            collateral: uint128(collateral),
            filledPeriod: period
        });
        uint256 reward;
        if (prior == SlotState.Repair) {
            reward = collateral * repairRewardPercent / 100;
            if (reward > r.forfeited) reward = r.forfeited;
            r.forfeited -= reward;
            withdrawable[msg.sender] += reward;
        }
        r.filled += 1;
        emit SlotFilled(requestId, slotIndex, msg.sender, round, reward);
        if (r.state == RequestState.New && r.filled == r.n) {
            _setState(r, RequestState.Started);
            r.startedAt = uint64(block.timestamp);
            emit RequestStarted(requestId);
        }
    }

    /// @notice Answers the current period's challenge for a slot the sender holds.
    function submitProof(uint256 requestId, uint256 slotIndex, Proof calldata proof) external {
        Request storage r = _running(requestId);
        if (slotIndex >= r.n) revert SlotOutOfRange(slotIndex, r.n);
        bytes32 id = slotId(requestId, slotIndex);
        Slot storage s = _slots[id];
        if (s.state != SlotState.Filled) revert SlotNotFilled(s.state);
        if (s.host != msg.sender) revert NotSlotHost();
        uint64 period = currentPeriod();
        if (proof.period != period) revert WrongPeriod(proof.period, period);
        uint256 word = _marks[id][period >> 7];
        uint256 shift = (period & 127) * 2;
        if (period == s.filledPeriod || (word >> shift) & 1 != 0) revert ProofAlreadySubmitted();
        _checkProof(r, requestId, slotIndex, proof);
        _marks[id][period >> 7] = word | (1 << shift);
        emit ProofSubmitted(requestId, slotIndex, period);
    }

    /// @notice Seed 000's contract termination by the host: leaves the slot (it is repaired by
    /// another host), keeps what it earned up to now, forfeits its collateral.
    function freeSlot(uint256 requestId, uint256 slotIndex) external {
        Request storage r = _running(requestId);
        if (slotIndex >= r.n) revert SlotOutOfRange(slotIndex, r.n);
        Slot storage s = _slots[slotId(requestId, slotIndex)];
        if (s.state != SlotState.Filled) revert SlotNotFilled(s.state);
        if (s.host != msg.sender) revert NotSlotHost();
        r.escrow -= _settle(requestId, slotIndex, s, _slotRate(r), block.timestamp);
        _vacate(requestId, r, slotIndex, s, false);
    }

    // ---- validators (anyone; the tracker acts as one) ---------------------------------------------

    /// @notice Slashes a host that was challenged in `period` (which has ended, within the
    /// timeout) and did not prove. The caller earns validatorPercent of the slash; after
    /// maxSlashes the host is removed and its slot freed for repair (its unsettled pay stays in
    /// the escrow); below k held slots the request fails.
    function markProofAsMissing(uint256 requestId, uint256 slotIndex, uint64 period) external {
        Request storage r = _running(requestId);
        if (slotIndex >= r.n) revert SlotOutOfRange(slotIndex, r.n);
        bytes32 id = slotId(requestId, slotIndex);
        Slot storage s = _slots[id];
        if (s.state != SlotState.Filled) revert SlotNotFilled(s.state);
        uint64 current = currentPeriod();
        if (period >= current) revert PeriodNotEnded(period, current);
        if (block.number >= periodStart(period + 1) + proofTimeout) revert ValidationTimedOut(period);
        // The fill's proof answers the fill's period; later periods are the host's to prove.
        if (period <= s.filledPeriod) revert ProofNotRequired();
        if (_challenge(requestId, slotIndex, period) % r.proofProbability != 0) revert ProofNotRequired();
        uint256 word = _marks[id][period >> 7];
        uint256 shift = (period & 127) * 2;
        if ((word >> shift) & 1 != 0) revert ProofWasSubmitted();
        if ((word >> shift) & 2 != 0) revert AlreadyMarkedMissing();
        _marks[id][period >> 7] = word | (2 << shift);

        uint256 slashed = uint256(r.slotSize) * r.collateralPerByte * slashPercent / 100;
        if (slashed > s.collateral) slashed = s.collateral; // only if the config promise broke
        uint256 reward = slashed * validatorPercent / 100;
        s.collateral -= uint128(slashed);
        s.slashes += 1;
        r.forfeited += slashed - reward;
        withdrawable[msg.sender] += reward;
        emit ProofMissed(requestId, slotIndex, period, msg.sender, slashed, reward);
        if (s.slashes >= maxSlashes) _vacate(requestId, r, slotIndex, s, true);
    }

    // ---- everyone -------------------------------------------------------------------------------

    /// @notice Pays the sender its whole withdrawable balance.
    function withdraw() external {
        uint256 amount = withdrawable[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        withdrawable[msg.sender] = 0; // before the call: a re-entered withdraw finds nothing
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---- views ----------------------------------------------------------------------------------

    /// The slot's key in storage and in the challenge.
    function slotId(uint256 requestId, uint256 slotIndex) public pure returns (bytes32) {
        return keccak256(abi.encode(requestId, slotIndex));
    }

    function getRequest(uint256 requestId) external view returns (Request memory) {
        return _request(requestId);
    }

    /// The state as time has it: New past its expiry reads Cancelled and Started past its end
    /// reads Finished, before anyone calls `close` (which moves the money).
    function requestState(uint256 requestId) external view returns (RequestState) {
        return _stateNow(_request(requestId));
    }

    /// The request opened by `client` with `nonce`; 0 if none.
    function requestIdOf(address client, bytes32 nonce) external view returns (uint256) {
        return _requestIds[keccak256(abi.encode(client, nonce))];
    }

    function getSlot(uint256 requestId, uint256 slotIndex) external view returns (Slot memory) {
        Request storage r = _request(requestId);
        if (slotIndex >= r.n) revert SlotOutOfRange(slotIndex, r.n);
        return _slots[slotId(requestId, slotIndex)];
    }

    /// Wei a host must send with fillSlot.
    function slotCollateral(uint256 requestId) external view returns (uint256) {
        Request storage r = _request(requestId);
        return uint256(r.slotSize) * r.collateralPerByte;
    }

    /// Pay the slot's host has earned and not yet had settled (0 unless Filled).
    function accruedPay(uint256 requestId, uint256 slotIndex) external view returns (uint256) {
        Request storage r = _request(requestId);
        if (slotIndex >= r.n) revert SlotOutOfRange(slotIndex, r.n);
        Slot storage s = _slots[slotId(requestId, slotIndex)];
        if (s.state != SlotState.Filled) return 0;
        uint256 until = block.timestamp;
        if (r.state == RequestState.New && until > r.expiresAt) until = r.expiresAt;
        if (until > r.endsAt) until = r.endsAt;
        return until > s.paidUntil ? (until - s.paidUntil) * _slotRate(r) : 0;
    }

    function currentPeriod() public view returns (uint64) {
        return uint64((block.number - zeroBlock) / proofPeriod);
    }

    /// The first block of `period`.
    function periodStart(uint64 period) public view returns (uint256) {
        return zeroBlock + uint256(period) * proofPeriod;
    }

    /// @notice The challenge of a slot in `period`: whether a proof is required, and which segment
    /// of the slot (0-based, in segments of 1 KiB) the proof must carry. Available from the
    /// period's first block until 256 blocks after the block before it.
    function getChallenge(uint256 requestId, uint256 slotIndex, uint64 period)
        external
        view
        returns (bool required, uint256 segmentIndex)
    {
        Request storage r = _request(requestId);
        if (slotIndex >= r.n) revert SlotOutOfRange(slotIndex, r.n);
        uint256 c = _challenge(requestId, slotIndex, period);
        return (c % r.proofProbability == 0, (c >> 128) % (r.slotSize / SEGMENT_SIZE));
    }

    /// Whether the slot's proof for `period` was submitted, and whether it was marked missing.
    function proofStatus(uint256 requestId, uint256 slotIndex, uint64 period)
        external
        view
        returns (bool submitted, bool markedMissing)
    {
        bytes32 id = slotId(requestId, slotIndex);
        uint256 bits = _marks[id][period >> 7] >> ((period & 127) * 2);
        Slot storage s = _slots[id];
        // A fill's proof answers its period (of the slot's latest fill).
        return (bits & 1 != 0 || (s.round > 0 && period == s.filledPeriod), bits & 2 != 0);
    }

    /// The EIP-712 digest a placer signs to let `host` fill slot `slotIndex` in fill `round`.
    function fillPermitDigest(uint256 requestId, uint256 slotIndex, address host, uint16 round)
        public
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(abi.encode(FILL_PERMIT_TYPEHASH, requestId, slotIndex, host, round));
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(), structHash));
    }

    // ---- internals ------------------------------------------------------------------------------

    function _request(uint256 requestId) private view returns (Request storage r) {
        r = _requests[requestId];
        if (r.client == address(0)) revert RequestNotFound(requestId);
    }

    /// The request, if it still runs: New before its expiry or Started before its end.
    function _running(uint256 requestId) private view returns (Request storage r) {
        r = _request(requestId);
        RequestState state = _stateNow(r);
        if (state != RequestState.New && state != RequestState.Started) revert RequestNotRunning(requestId, state);
    }

    function _stateNow(Request storage r) private view returns (RequestState) {
        if (r.state == RequestState.New && block.timestamp >= r.expiresAt) return RequestState.Cancelled;
        if (r.state == RequestState.Started && block.timestamp >= r.endsAt) return RequestState.Finished;
        return r.state;
    }

    /// Wei per second that one filled slot earns.
    function _slotRate(Request storage r) private view returns (uint256) {
        return uint256(r.slotSize) * r.pricePerByteSecond;
    }

    /// Moves the host's pay up to `until` into its balance; returns it (the caller takes it from
    /// the escrow).
    function _settle(uint256 requestId, uint256 slotIndex, Slot storage s, uint256 rate, uint256 until)
        private
        returns (uint256 pay)
    {
        if (until <= s.paidUntil) return 0;
        pay = (until - s.paidUntil) * rate;
        s.paidUntil = uint64(until);
        withdrawable[s.host] += pay;
        emit PaymentSettled(requestId, slotIndex, s.host, pay);
    }

    /// The host is gone (freeSlot or removal): its collateral is forfeited and the slot waits
    /// for a new host. Below k held slots a started request fails.
    function _vacate(uint256 requestId, Request storage r, uint256 slotIndex, Slot storage s, bool removed) private {
        uint256 forfeited = s.collateral;
        SlotState next = r.state == RequestState.Started ? SlotState.Repair : SlotState.Freed;
        s.collateral = 0;
        s.state = next;
        r.forfeited += forfeited;
        r.filled -= 1;
        emit SlotFreed(requestId, slotIndex, s.host, next, removed, forfeited);
        if (r.state == RequestState.Started && r.filled < r.k) {
            _close(requestId, r, RequestState.Failed, block.timestamp);
        }
    }

    /// Ends a request in `state`: every host holding a slot is paid up to `until` and gets its
    /// collateral back; what is left of the escrow and the forfeited collateral goes to the client.
    function _close(uint256 requestId, Request storage r, RequestState state, uint256 until) private {
        _setState(r, state);
        uint256 rate = _slotRate(r);
        uint256 paid;
        for (uint256 i = 0; i < r.n; ++i) {
            Slot storage s = _slots[slotId(requestId, i)];
            if (s.state != SlotState.Filled) continue;
            uint256 pay = until > s.paidUntil ? (until - s.paidUntil) * rate : 0;
            uint256 collateral = s.collateral;
            paid += pay;
            s.state = SlotState.Paid;
            s.paidUntil = uint64(until);
            s.collateral = 0;
            withdrawable[s.host] += pay + collateral;
            emit SlotPaid(requestId, i, s.host, pay, collateral);
        }
        uint256 refund = r.escrow - paid + r.forfeited;
        r.escrow = 0;
        r.forfeited = 0;
        r.filled = 0;
        withdrawable[r.client] += refund;
        emit RequestEnded(requestId, state, refund);
    }

    /// The one place a request changes state: the transitions of RequestState's table, no others.
    function _setState(Request storage r, RequestState to) private {
        RequestState from = r.state;
        bool allowed = from == RequestState.New
            ? to == RequestState.Started || to == RequestState.Cancelled
            : from == RequestState.Started && to != RequestState.New && to != RequestState.Started;
        assert(allowed);
        r.state = to;
    }

    /// The random value of a slot's challenge in `period`: from the hash of the block just before
    /// the period began, fixed from the period's first block on, unknown before it.
    function _challenge(uint256 requestId, uint256 slotIndex, uint64 period) private view returns (uint256) {
        bytes32 seed = blockhash(periodStart(period) - 1);
        if (seed == 0) revert ChallengeUnavailable(period);
        return uint256(keccak256(abi.encode(seed, slotId(requestId, slotIndex))));
    }

    /// Reverts InvalidProof unless `proof` carries the segment the challenge of proof.period names
    /// and a path from it to the request's dataset root. Leaf counts come from the request, never
    /// from the prover: segments per block, blocks per slot, n slots.
    function _checkProof(Request storage r, uint256 requestId, uint256 slotIndex, Proof calldata proof) private view {
        if (proof.segment.length != SEGMENT_SIZE) revert InvalidProof();
        uint256 segmentsPerBlock = r.blockSize / SEGMENT_SIZE;
        uint256 blocks = r.slotSize / r.blockSize;
        uint256 segment = (_challenge(requestId, slotIndex, proof.period) >> 128) % (blocks * segmentsPerBlock);
        bytes32 node = sha256(abi.encodePacked(bytes1(0x00), proof.segment));
        uint256 used;
        (node, used) = _climb(node, segment % segmentsPerBlock, segmentsPerBlock, proof.path, 0);
        (node, used) = _climb(node, segment / segmentsPerBlock, blocks, proof.path, used);
        (node, used) = _climb(node, slotIndex, r.n, proof.path, used);
        if (used != proof.path.length || node != r.datasetRoot) revert InvalidProof();
    }

    /// Hashes `node`, leaf `index` of a tree of `count` leaves, up to that tree's root with the
    /// siblings path[used..]; a level where the node is the promoted odd last one has no sibling.
    function _climb(bytes32 node, uint256 index, uint256 count, bytes32[] calldata path, uint256 used)
        private
        view
        returns (bytes32, uint256)
    {
        while (count > 1) {
            if (index & 1 == 1) {
                if (used == path.length) revert InvalidProof();
                node = _nodeHash(path[used++], node);
            } else if (index + 1 < count) {
                if (used == path.length) revert InvalidProof();
                node = _nodeHash(node, path[used++]);
            }
            index >>= 1;
            count = (count + 1) >> 1;
        }
        return (node, used);
    }

    /// sha256(0x01 ‖ left ‖ right), hashed in scratch memory past the free pointer (no allocation
    /// per level).
    function _nodeHash(bytes32 left, bytes32 right) private view returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x01)
            mstore(add(p, 1), left)
            mstore(add(p, 33), right)
            if iszero(staticcall(gas(), 0x02, p, 65, 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }

    function _checkPermit(address placer, uint256 requestId, uint256 slotIndex, uint16 round, bytes calldata permit)
        private
        view
    {
        if (permit.length != 65) revert NotChosenByPlacer();
        bytes32 r = bytes32(permit[0:32]);
        bytes32 s = bytes32(permit[32:64]);
        uint8 v = uint8(permit[64]);
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) revert NotChosenByPlacer();
        address signer = ecrecover(fillPermitDigest(requestId, slotIndex, msg.sender, round), v, r, s);
        if (signer == address(0) || signer != placer) revert NotChosenByPlacer();
    }

    function _domainSeparator() private view returns (bytes32) {
        return block.chainid == _deployChainId ? _deployDomainSeparator : _buildDomainSeparator();
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256("Open Bucket StorageMarket"),
                keccak256("1"),
                block.chainid,
                address(this)
            )
        );
    }
}
