#include "store/file_io.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "testing/test_util.h"

namespace ob::fileio {
namespace {

namespace fs = std::filesystem;

fs::perms mode(const fs::path& path) { return fs::symlink_status(path).permissions() & fs::perms::all; }

TEST(FileIoTest, PrivateDirectoriesAreCreatedOwnerOnlyAndExistingOnesKeepTheirMode) {
  ob::testing::TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  auto made = create_private_directories(dir.path() / "a" / "b" / "c");
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_TRUE(*made);
  for (const fs::path& p : {dir.path() / "a", dir.path() / "a" / "b", dir.path() / "a" / "b" / "c"}) {
    EXPECT_EQ(mode(p), fs::perms::owner_all) << p;
  }
  EXPECT_EQ(mode(dir.path()) & fs::perms::others_read, fs::perms::others_read);  // not ours to change
  made = create_private_directories(dir.path() / "a" / "b" / "c");
  ASSERT_TRUE(made);
  EXPECT_FALSE(*made);  // existed
  ASSERT_TRUE(write_file_atomic(dir.path() / "file", as_bytes("x")));
  EXPECT_FALSE(create_private_directories(dir.path() / "file" / "below"));
}

}  // namespace
}  // namespace ob::fileio
