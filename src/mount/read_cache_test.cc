#include "mount/read_cache.h"

#include <gtest/gtest.h>

namespace ob::mount {
namespace {

std::shared_ptr<const Bytes> window(std::uint8_t fill) { return std::make_shared<const Bytes>(4, fill); }

TEST(MountReadCache, KeepsTheMostRecentlyUsedWindowsUpToItsCapacity) {
  ReadCache cache(2);
  cache.put("a", 0, window(1));
  cache.put("a", 1, window(2));
  ASSERT_TRUE(cache.get("a", 0));  // 0 is now the most recent: 1 goes first
  cache.put("b", 0, window(3));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.get("a", 1));
  EXPECT_EQ((*cache.get("a", 0))[0], 1);
  EXPECT_EQ((*cache.get("b", 0))[0], 3);
  cache.put("b", 0, window(4));  // replaced, not doubled
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ((*cache.get("b", 0))[0], 4);
  cache.forget("b");
  EXPECT_FALSE(cache.get("b", 0));
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace ob::mount
