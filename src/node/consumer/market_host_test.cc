// MarketHost's own state: the slots it filled and those it must free, across restarts. The
// chain side (fills, proofs, freeSlot) runs in tests/market_chain_test.sh against anvil.
#include "node/consumer/market_host.h"

#include <gtest/gtest.h>

#include "store/file_io.h"
#include "testing/test_util.h"

namespace ob::consumer {
namespace {

constexpr const char* kFile = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

TEST(MarketHostTest, AReleasedSlotIsNoLongerProvenAndStaysReleasedAfterARestart) {
  testing::TempDir tmp;
  std::filesystem::create_directories(tmp.path() / "state");
  const auto state = tmp.path() / "state" / "market_slots.json";
  const std::string text = std::string(R"({"slots": [{"file": ")") + kFile +
                           R"(", "slot": 2, "requestId": "7"}, {"file": ")" + kFile +
                           R"(", "slot": 3, "requestId": "7"}]})";
  ASSERT_TRUE(fileio::write_file_atomic(state, as_bytes(text), 0600));
  {
    auto host = MarketHost::open(state, "", {});
    ASSERT_TRUE(host) << host.error().message;
    EXPECT_TRUE((*host)->filled(kFile, 2));
    (*host)->release(kFile, 2);
    (*host)->release(kFile, 9);  // never filled: nothing
    EXPECT_FALSE((*host)->filled(kFile, 2));
    EXPECT_TRUE((*host)->filled(kFile, 3));
    EXPECT_EQ((*host)->slots().size(), 2u);  // kept until freeSlot succeeds
  }
  auto again = MarketHost::open(state, "", {});
  ASSERT_TRUE(again) << again.error().message;
  const std::vector<FilledSlot> slots = (*again)->slots();
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_TRUE(slots[0].release);  // slot 2 still to free after the restart
  EXPECT_FALSE(slots[1].release);
  EXPECT_FALSE((*again)->filled(kFile, 2));
  // A STORE order for it again (the tracker repairs it here) does not undo the termination:
  // refused before any chain call, the slot still to free.
  auto refill = (*again)->fill(kFile, 2, "7", {});
  ASSERT_FALSE(refill);
  EXPECT_NE(refill.error().message.find("being freed on chain"), std::string::npos) << refill.error().message;
  EXPECT_TRUE((*again)->slots()[0].release);
  // The tracker's DELETE of the slot given up comes before its freeSlot: that stays due.
  (*again)->forget(kFile, 2);
  EXPECT_EQ((*again)->slots().size(), 2u);
  (*again)->forget(kFile, 3);  // a slot still proven goes at once
  ASSERT_EQ((*again)->slots().size(), 1u);
  EXPECT_EQ((*again)->slots()[0].slot, 2u);
}

TEST(MarketHostTest, AStateFileWithABadReleaseFlagIsRefused) {
  testing::TempDir tmp;
  const auto state = tmp.path() / "market_slots.json";
  const std::string text = std::string(R"({"slots": [{"file": ")") + kFile +
                           R"(", "slot": 2, "requestId": "7", "release": "yes"}]})";
  ASSERT_TRUE(fileio::write_file_atomic(state, as_bytes(text), 0600));
  auto host = MarketHost::open(state, "", {});
  ASSERT_FALSE(host);
  EXPECT_EQ(host.error().code, Errc::corrupt);
}

}  // namespace
}  // namespace ob::consumer
