#include "store/file_io.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "testing/test_util.h"

namespace ob::fileio {
namespace {

namespace fs = std::filesystem;

fs::perms mode(const fs::path& path) { return fs::symlink_status(path).permissions() & fs::perms::all; }

/// The names in `dir`, sorted.
std::vector<std::string> names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path().filename().string());
  std::ranges::sort(out);
  return out;
}

const std::string kLeftover = std::string(kTemporaryPrefix) + "00112233445566778899aabbccddeeff";

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

TEST(FileIoTest, AtomicFilesAreWrittenUnderOurTemporaryNamesOnly) {
  ob::testing::TempDir dir;
  auto file = AtomicFile::create(dir.path() / "out.bin", 0600);
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->write(as_bytes("data")));
  const std::vector<std::string> during = names(dir.path());
  ASSERT_EQ(during.size(), 1u);
  EXPECT_TRUE(is_temporary_name(during[0])) << during[0];
  EXPECT_EQ(mode(dir.path() / during[0]), fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_TRUE(file->commit());
  EXPECT_EQ(names(dir.path()), std::vector<std::string>{"out.bin"});
  {
    auto abandoned = AtomicFile::create(dir.path() / "never.bin");
    ASSERT_TRUE(abandoned);
  }
  EXPECT_EQ(names(dir.path()), std::vector<std::string>{"out.bin"});
  // A name longer than NAME_MAX less a suffix still works: the temporary name does not embed it.
  const std::string longest(255, 'n');
  auto long_name = AtomicFile::create(dir.path() / longest);
  ASSERT_TRUE(long_name) << long_name.error().message;
  ASSERT_TRUE(long_name->commit());

  EXPECT_TRUE(is_temporary_name(kLeftover));
  EXPECT_FALSE(is_temporary_name("out.bin.tmp-0011223344556677"));  // a user may name a file so
  EXPECT_FALSE(is_temporary_name(kLeftover.substr(0, kLeftover.size() - 1)));
  EXPECT_FALSE(is_temporary_name(kLeftover + "0"));
  EXPECT_FALSE(is_temporary_name(std::string(kTemporaryPrefix) + "00112233445566778899AABBCCDDEEFF"));
}

// Every way copy_from may take gives the source's exact bytes, whatever the source
// descriptor's position (it is left there), across the 1 MiB buffer and with an odd tail.
TEST(FileIoTest, CopyFromGivesTheSourceBytesByEveryMethod) {
  ob::testing::TempDir dir;
  const Bytes data = ob::testing::seeded_bytes((std::size_t{3} << 20) + 4097, 7);
  ASSERT_TRUE(write_file_atomic(dir.path() / "source", data).has_value());
  auto in = open_fd(dir.path() / "source", O_RDONLY);
  ASSERT_TRUE(in.has_value());
  ASSERT_EQ(::lseek(in->get(), 12345, SEEK_SET), 12345);
  using Method = AtomicFile::CopyMethod;
  for (Method cheapest : {Method::clone, Method::kernel, Method::buffered}) {
    const fs::path target = dir.path() / ("copy-" + std::string(to_string(cheapest)));
    auto out = AtomicFile::create(target, 0600);
    ASSERT_TRUE(out.has_value());
    auto method = out->copy_from(in->get(), dir.path() / "source", cheapest);
    ASSERT_TRUE(method.has_value()) << method.error().message;
    // Never a cheaper method than allowed; the buffered one is always what it says.
    EXPECT_GE(static_cast<int>(*method), static_cast<int>(cheapest));
    if (cheapest == Method::buffered) {
      EXPECT_EQ(*method, Method::buffered);
    }
    ASSERT_TRUE(out->commit().has_value());
    auto copied = read_file(target, data.size() + 1);
    ASSERT_TRUE(copied.has_value());
    EXPECT_TRUE(*copied == data) << to_string(cheapest);
    EXPECT_EQ(::lseek(in->get(), 0, SEEK_CUR), 12345);
  }
  // Only an empty file is filled: bytes written before would be overwritten by a clone.
  auto out = AtomicFile::create(dir.path() / "half", 0600);
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(out->write(ByteView(data.data(), 10)).has_value());
  auto refused = out->copy_from(in->get(), dir.path() / "source");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
}

TEST(FileIoTest, RemoveLeftoversTakesWhatACrashLeftButNotWhatIsBeingWritten) {
  ob::testing::TempDir dir;
  // What a killed writer leaves: a temporary file nobody holds, here and in a subdirectory.
  ASSERT_TRUE(write_file_atomic(dir.path() / kLeftover, as_bytes("half")));
  ASSERT_TRUE(create_private_directories(dir.path() / "sub"));
  ASSERT_TRUE(write_file_atomic(dir.path() / "sub" / kLeftover, as_bytes("half")));
  ASSERT_TRUE(write_file_atomic(dir.path() / "user.txt.tmp-0011223344556677", as_bytes("a user's")));
  ASSERT_TRUE(write_file_atomic(dir.path() / "sub" / "keep.txt", as_bytes("keep")));
  // A write in progress (this process holds it, as a live daemon or CLI would).
  auto live = AtomicFile::create(dir.path() / "live.bin");
  ASSERT_TRUE(live);
  ASSERT_TRUE(live->write(as_bytes("partial")));

  auto top_only = remove_leftovers(dir.path(), is_temporary_name);
  ASSERT_TRUE(top_only) << top_only.error().message;
  EXPECT_EQ(*top_only, 1u);
  EXPECT_TRUE(fs::exists(dir.path() / "sub" / kLeftover));
  auto removed = remove_leftovers(dir.path(), is_temporary_name, /*recursive=*/true);
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(names(dir.path() / "sub"), std::vector<std::string>{"keep.txt"});
  const std::vector<std::string> left = names(dir.path());
  ASSERT_EQ(left.size(), 3u);  // the live one, the user's file, sub
  EXPECT_TRUE(std::ranges::count_if(left, [](const std::string& n) { return is_temporary_name(n); }) == 1);
  ASSERT_TRUE(live->commit());
  EXPECT_EQ(names(dir.path()), (std::vector<std::string>{"live.bin", "sub", "user.txt.tmp-0011223344556677"}));
  EXPECT_FALSE(remove_leftovers(dir.path() / "missing", is_temporary_name));
}

}  // namespace
}  // namespace ob::fileio
