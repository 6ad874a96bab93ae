// Coverage feedback for libFuzzer from code compiled by g++.
//
// Why this file exists. libFuzzer decides which inputs are interesting from coverage counters.
// clang's -fsanitize=fuzzer puts those in every module (inline 8-bit counters and a PC table),
// but our code needs g++: it uses std::expected, and Debian 12's only clang (14) cannot compile
// libstdc++ 12's <expected>. GCC emits neither counters nor a PC table. It has two things
// libFuzzer can use:
//   -fsanitize-coverage=trace-cmp  calls __sanitizer_cov_trace_[const_]cmp{1,2,4,8} and
//                                  __sanitizer_cov_trace_switch, which libFuzzer implements
//                                  natively (comparison operands feed its mutations);
//   -fsanitize-coverage=trace-pc   calls __sanitizer_cov_trace_pc() at the head of every basic
//                                  block. libFuzzer 14 still defines that function, but only to
//                                  print "no longer supported" and exit.
// This shim turns trace-pc into the counters libFuzzer reads:
//   - fuzz/CMakeLists.txt links with -Wl,--wrap=__sanitizer_cov_trace_pc, so GCC's calls land in
//     __wrap___sanitizer_cov_trace_pc below, not in libFuzzer's stub (defining the plain name
//     here would clash with it: both are strong symbols);
//   - each call's return address identifies its basic block. The first time a block runs it gets
//     the next free 8-bit counter (a small open-addressing map from address to counter), so no
//     two blocks share a counter, and the numbering does not depend on where ASLR loaded the
//     program. A constructor registers the kCounters counters with
//     __sanitizer_cov_8bit_counters_init, as clang's module constructor would: libFuzzer makes
//     features (ft:) from them;
//   - libFuzzer counts covered PCs (cov:) only through a PC table as long as the counters, so
//     one is registered with __sanitizer_cov_pcs_init; entry i holds the address of the block
//     that owns counter i (so -print_pcs=1 shows real code). No entry is marked a function
//     entry, so -print_coverage and -focus_function are not supported;
//   - GCC's trace-cmp also emits hooks for float and double comparisons that libFuzzer lacks;
//     they are defined here as no-ops.
// More than kCounters (256 Ki) blocks would share counters: feedback gets coarser, nothing breaks
// (the parsers have under 7,000 blocks; the whole library, for the service targets, about
// 100,000). Not thread-safe: the targets call the code they fuzz on one thread, and a race with
// a background thread of the library could only give a block two counters.
//
// This file must NOT be compiled with -fsanitize-coverage (the hook would call itself) or with
// the sanitizers: fuzz/CMakeLists.txt builds it as its own library without them.

#include <cstddef>
#include <cstdint>

extern "C" {
// libFuzzer's registration entry points (compiler-rt/lib/fuzzer/FuzzerTracePC.cpp).
void __sanitizer_cov_8bit_counters_init(std::uint8_t* begin, std::uint8_t* end);
void __sanitizer_cov_pcs_init(const std::uintptr_t* begin, const std::uintptr_t* end);
}

namespace {

constexpr std::size_t kCounters = std::size_t{1} << 18;
constexpr int kMapBits = 19;
constexpr std::size_t kMapSlots = std::size_t{1} << kMapBits;  // at most half full: short probes

// The layout libFuzzer reads a PC table with (TracePC::PCTableEntry): the PC, then flags whose
// bit 0 marks a function entry.
struct PcTableEntry {
  std::uintptr_t pc;
  std::uintptr_t flags;
};

// Which counter a block (by return address) owns; pc 0 marks a free slot.
struct MapSlot {
  std::uintptr_t pc;
  std::uint32_t counter;
};

alignas(4096) std::uint8_t g_counters[kCounters];
alignas(4096) PcTableEntry g_pcs[kCounters];
MapSlot g_map[kMapSlots];
std::uint32_t g_counters_used = 0;

// Fibonacci hashing: code addresses are clustered and step by small amounts; the top bits of a
// multiplicative hash spread them over the map where their low bits alone would cluster.
inline std::size_t hash(std::uintptr_t pc) {
  return static_cast<std::size_t>((std::uint64_t{pc} * 0x9E3779B97F4A7C15ull) >> (64 - kMapBits));
}

inline std::size_t counter_of(std::uintptr_t pc) {
  for (std::size_t i = hash(pc);; i = (i + 1) % kMapSlots) {
    MapSlot& slot = g_map[i];
    if (slot.pc == pc) return slot.counter;
    if (slot.pc == 0) {
      if (g_counters_used == kCounters) return hash(pc) % kCounters;  // full: share one
      slot.pc = pc;
      slot.counter = g_counters_used++;
      g_pcs[slot.counter].pc = pc;
      return slot.counter;
    }
  }
}

__attribute__((constructor)) void register_counters() {
  __sanitizer_cov_8bit_counters_init(g_counters, g_counters + kCounters);
  __sanitizer_cov_pcs_init(reinterpret_cast<const std::uintptr_t*>(g_pcs),
                           reinterpret_cast<const std::uintptr_t*>(g_pcs + kCounters));
}

}  // namespace

extern "C" {

void __wrap___sanitizer_cov_trace_pc() {
  std::uint8_t& counter =
      g_counters[counter_of(reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)))];
  if (counter != 0xff) ++counter;  // saturate: a wrap to 0 would hide a hot block
}

void __sanitizer_cov_trace_cmpf(float, float) {}
void __sanitizer_cov_trace_cmpd(double, double) {}

}  // extern "C"
