#include "core/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace ob::metrics {
namespace {

TEST(Metrics, ACounterIsRegisteredOnceAndCountsFromManyThreads) {
  Counter& a = counter("ob_test_things_total", "Things counted by the test.");
  Counter& b = counter("ob_test_things_total", "ignored: the first help wins");
  ASSERT_EQ(&a, &b);
  const std::uint64_t before = a.value();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) a.add();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(a.value(), before + 40000);
  const std::string page = render({});
  EXPECT_NE(page.find("# HELP ob_test_things_total Things counted by the test.\n"
                      "# TYPE ob_test_things_total counter\n"
                      "ob_test_things_total " + std::to_string(before + 40000) + "\n"),
            std::string::npos)
      << page;
}

TEST(Metrics, GaugesOfOneNameShareAHeaderAndLabelValuesAreEscaped) {
  const std::string page = render({{"ob_test_files", "Files by status.", 2, {{"status", "UPLOADED"}}},
                                   {"ob_test_bytes", "Bytes.", 1.5, {}},
                                   {"ob_test_files", "Files by status.", 1, {{"status", "a\"b\\c\nd"}}}});
  EXPECT_NE(page.find("# HELP ob_test_files Files by status.\n"
                      "# TYPE ob_test_files gauge\n"
                      "ob_test_files{status=\"UPLOADED\"} 2\n"
                      "ob_test_files{status=\"a\\\"b\\\\c\\nd\"} 1\n"
                      "# HELP ob_test_bytes Bytes.\n"
                      "# TYPE ob_test_bytes gauge\n"
                      "ob_test_bytes 1.5\n"),
            std::string::npos)
      << page;
}

}  // namespace
}  // namespace ob::metrics
