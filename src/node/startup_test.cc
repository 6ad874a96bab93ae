#include "node/startup.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "testing/test_util.h"

namespace ob {
namespace {

namespace fs = std::filesystem;

/// Points $XDG_CONFIG_HOME at a temporary directory for one test, restoring it after.
class ConsumerStartupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* old = std::getenv("XDG_CONFIG_HOME")) saved_ = old;
    ::setenv("XDG_CONFIG_HOME", config_.path().c_str(), 1);
  }
  void TearDown() override {
    if (saved_) {
      ::setenv("XDG_CONFIG_HOME", saved_->c_str(), 1);
    } else {
      ::unsetenv("XDG_CONFIG_HOME");
    }
  }
  fs::path units() const { return config_.path() / "systemd" / "user"; }

  ob::testing::TempDir config_{"ob-xdg"};
  ob::testing::TempDir home_{"ob-home"};
  std::optional<std::string> saved_;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

TEST_F(ConsumerStartupTest, EnablesAndDisablesLikeSystemctl) {
  const std::string name = startup_unit_name(home_.path());
  ASSERT_EQ(name.size(), std::string("open-bucket-").size() + 8 + std::string(".service").size());
  EXPECT_EQ(name.rfind("open-bucket-", 0), 0u);

  ASSERT_TRUE(update_startup_unit(home_.path(), true));
  const fs::path unit = units() / name;
  const fs::path link = units() / "default.target.wants" / name;
  ASSERT_TRUE(fs::is_regular_file(unit));
  ASSERT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), unit);
  const std::string text = read_text(unit);
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  EXPECT_NE(text.find("ExecStart=\"" + exe + "\" --home \"" + home_.path().string() + "\" daemon\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("Type=simple\n"), std::string::npos);
  EXPECT_NE(text.find("Restart=on-failure\n"), std::string::npos);
  EXPECT_NE(text.find("WantedBy=default.target\n"), std::string::npos);

  // Again: idempotent, no temporary files left.
  ASSERT_TRUE(update_startup_unit(home_.path(), true));
  std::size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(units() / "default.target.wants")) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1u);

  ASSERT_TRUE(update_startup_unit(home_.path(), false));
  EXPECT_FALSE(fs::exists(unit));
  EXPECT_FALSE(fs::is_symlink(link));
  // Nothing to remove is fine.
  EXPECT_TRUE(update_startup_unit(home_.path(), false));
}

TEST_F(ConsumerStartupTest, EachHomeHasItsOwnUnit) {
  ob::testing::TempDir other("ob-home");
  EXPECT_NE(startup_unit_name(home_.path()), startup_unit_name(other.path()));
  // The same home written differently is the same unit.
  EXPECT_EQ(startup_unit_name(home_.path()), startup_unit_name(home_.path() / "." / ""));
}

TEST_F(ConsumerStartupTest, QuotesSpecialCharacters) {
  auto text = startup_unit_text("/tmp/a b/100%$x\"y", "/usr/bin/open-bucket");
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("--home \"/tmp/a b/100%%$$x\\\"y\" daemon"), std::string::npos) << *text;
  EXPECT_FALSE(startup_unit_text("/tmp/a\nb", "/usr/bin/open-bucket"));
}

TEST_F(ConsumerStartupTest, UnwritableDirectoryIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores permissions";
  fs::create_directories(units());
  fs::permissions(units(), fs::perms::owner_read | fs::perms::owner_exec);
  auto result = update_startup_unit(home_.path(), true);
  fs::permissions(units(), fs::perms::owner_all);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::io);
}

}  // namespace
}  // namespace ob
