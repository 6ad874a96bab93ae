#include "cli/output.h"

#include <gtest/gtest.h>

#include <regex>

namespace ob::cli {
namespace {

using std::chrono::duration;
using std::chrono::seconds;

TEST(HumanDuration, WholeSecondsMinutesAndHours) {
  EXPECT_EQ(human_duration(duration<double>(0.4)), "0 s");
  EXPECT_EQ(human_duration(seconds(59)), "59 s");
  EXPECT_EQ(human_duration(seconds(125)), "2 min 05 s");
  EXPECT_EQ(human_duration(seconds(3720)), "1 h 02 min");
  EXPECT_EQ(human_duration(duration<double>(1e30)), ">99 h");
  EXPECT_EQ(human_duration(duration<double>(-3)), "0 s");
}

TEST(FormatProgress, KnownTotalShowsBarBytesRateAndEta) {
  const std::uint64_t mib = 1024 * 1024;
  // 4 MiB of 10 MiB in 2 s: 2 MiB/s, 6 MiB left -> 3 s.
  EXPECT_EQ(format_progress("put a.bin", 4 * mib, 10 * mib, seconds(2)),
            "put a.bin [############                  ]  40% 4.0 MiB / 10.0 MiB  2.0 MiB/s  ETA 3 s");
}

TEST(FormatProgress, EtaIsUnknownUntilBytesMoveAndZeroAtTheEnd) {
  EXPECT_EQ(format_progress("get", 0, 1000, seconds(5)),
            "get [                              ]   0% 0 B / 1000 B  0 B/s  ETA --");
  EXPECT_EQ(format_progress("get", 1000, 1000, seconds(0)),
            "get [##############################] 100% 1000 B / 1000 B  0 B/s  ETA 0 s");
}

TEST(FormatProgress, EtaRoundsUpWhileBytesRemain) {
  // 999 of 1000 bytes in 1 s: a millisecond left reads "1 s", never "0 s" before the end.
  const std::string line = format_progress("x", 999, 1000, seconds(1));
  EXPECT_TRUE(line.ends_with("ETA 1 s")) << line;
}

TEST(FormatProgress, MoreThanTheTotalStaysAFullBar) {
  const std::string line = format_progress("x", 3000, 1000, seconds(1));
  EXPECT_NE(line.find("[##############################] 100%"), std::string::npos) << line;
}

TEST(FormatProgress, UnknownTotalShowsCountAndRateOnly) {
  EXPECT_EQ(format_progress("put stdin", 3 * 1024, 0, seconds(3)), "put stdin 3.0 KiB  1.0 KiB/s");
}

TEST(FormatProgress, LongEtaInMinutes) {
  // 1 MiB of 101 MiB in 1 s: 100 s left.
  const std::uint64_t mib = 1024 * 1024;
  const std::string line = format_progress("up", mib, 101 * mib, seconds(1));
  EXPECT_TRUE(std::regex_search(line, std::regex("ETA 1 min 40 s$"))) << line;
}

TEST(FormatWait, LabelPhaseAndElapsed) {
  EXPECT_EQ(format_wait("send 1 ETH", "waiting for receipt 0x12ab", duration<double>(6.7)),
            "send 1 ETH waiting for receipt 0x12ab 6 s");
  EXPECT_EQ(format_wait("upload", "", seconds(61)), "upload 1 min 01 s");
}

TEST(FitToWidth, CutsAtColumnsWithoutSplittingUtf8) {
  EXPECT_EQ(fit_to_width("abcdef", 4), "abcd");
  EXPECT_EQ(fit_to_width("abc", 4), "abc");
  EXPECT_EQ(fit_to_width("abcdef", 0), "abcdef");
  // "…" is three bytes and one column.
  EXPECT_EQ(fit_to_width("0x12ab…wait", 7), "0x12ab…");
  EXPECT_EQ(fit_to_width("0x12ab…wait", 6), "0x12ab");
}

TEST(ProgressWanted, NeverWithJson) { EXPECT_FALSE(progress_wanted(true)); }

TEST(RunWithProgress, ReturnsTheWorkResultAndTicksWhileItRuns) {
  int ticks = 0;
  std::promise<void> ticked;
  bool signalled = false;
  const int value = run_with_progress(
      true,
      [&, f = ticked.get_future()]() mutable {
        f.wait();  // returns only after the first tick: the loop must have ticked
        return 42;
      },
      [&] {
        ++ticks;
        if (!signalled) {
          signalled = true;
          ticked.set_value();
        }
      },
      std::chrono::milliseconds(1));
  EXPECT_EQ(value, 42);
  EXPECT_GE(ticks, 1);
}

TEST(RunWithProgress, DisabledRunsTheWorkHereWithoutTicks) {
  int ticks = 0;
  EXPECT_EQ(run_with_progress(false, [] { return 7; }, [&] { ++ticks; }), 7);
  EXPECT_EQ(ticks, 0);
}

}  // namespace
}  // namespace ob::cli
