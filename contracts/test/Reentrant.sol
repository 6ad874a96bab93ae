// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.37;

import "StorageMarket.sol";

/// Test only: a client contract whose receive() re-enters StorageMarket.withdraw (or refuses
/// Ether), to show that withdraw pays once and never loses a balance.
contract Reentrant {
    StorageMarket private immutable market;
    bool private immutable refuse;
    uint256 public reentries;
    bool public reentryReverted;

    constructor(StorageMarket market_, bool refuse_) {
        market = market_;
        refuse = refuse_;
    }

    function open(bytes32 nonce, StorageMarket.StorageAsk calldata ask) external payable returns (uint256) {
        return market.requestStorage{value: msg.value}(nonce, ask);
    }

    function cancel(uint256 requestId) external {
        market.cancel(requestId);
    }

    function withdraw() external {
        market.withdraw();
    }

    receive() external payable {
        require(!refuse, "refused");
        if (reentries++ == 0) {
            try market.withdraw() {} catch {
                reentryReverted = true;
            }
        }
    }
}
