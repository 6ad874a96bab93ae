#include "core/sha256.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace ob {
namespace {

std::string hex(const Sha256Digest& d) { return to_hex(d); }

Bytes concat(std::initializer_list<std::string_view> parts) {
  Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// FIPS 180-4 examples (csrc.nist.gov, SHA256.pdf / SHA2_Additional.pdf).
TEST(Sha256, FipsVectors) {
  EXPECT_EQ(hex(Sha256::hash(as_bytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(Sha256::hash(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(Sha256::hash(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, MillionAs) {
  Sha256 h;
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(as_bytes(chunk));
  EXPECT_EQ(hex(h.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 3000; ++i) data.push_back(static_cast<char>(i * 31 + 7));
  const Sha256Digest one_shot = Sha256::hash(as_bytes(data));
  for (std::size_t step : {1u, 3u, 63u, 64u, 65u, 1000u}) {
    Sha256 h;
    for (std::size_t pos = 0; pos < data.size(); pos += step) {
      h.update(as_bytes(std::string_view(data).substr(pos, step)));
    }
    EXPECT_EQ(h.finish(), one_shot) << "step " << step;
  }
}

TEST(Sha256, EmptyUpdatesChangeNothing) {
  Sha256 h;
  h.update({});
  h.update(as_bytes("abc"));
  h.update({});
  EXPECT_EQ(h.finish(), Sha256::hash(as_bytes("abc")));
}

TEST(Sha256, FinishResets) {
  Sha256 h;
  h.update(as_bytes("garbage"));
  EXPECT_EQ(h.finish(), Sha256::hash(as_bytes("garbage")));
  // After finish the context starts over: nothing of "garbage" leaks into the next digest.
  h.update(as_bytes("abc"));
  EXPECT_EQ(hex(h.finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(h.finish()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, HashPrefixedEqualsHashOfConcatenation) {
  const Bytes all = concat({"\x01", "left", "right"});
  EXPECT_EQ(Sha256::hash_prefixed(0x01, as_bytes("left"), as_bytes("right")), Sha256::hash(all));
  // Independently computed: python3 hashlib.sha256(b'\x01leftright').
  EXPECT_EQ(hex(Sha256::hash_prefixed(0x01, as_bytes("left"), as_bytes("right"))),
            "23c24acca9e9aa966f39b90e4154d913334fa160e35fcbcd034e673bfb3339ad");
  const Bytes zero_prefixed = concat({std::string_view("\0", 1), "leaf"});
  EXPECT_EQ(Sha256::hash_prefixed(0x00, as_bytes("leaf")), Sha256::hash(zero_prefixed));
  // The prefix separates domains.
  EXPECT_NE(Sha256::hash_prefixed(0x00, as_bytes("leaf")),
            Sha256::hash_prefixed(0x01, as_bytes("leaf")));
}

TEST(Sha256, OneShotIsolatedFromInstances) {
  // The one-shot helpers use their own per-thread context; a pending instance is unaffected.
  Sha256 h;
  h.update(as_bytes("ab"));
  (void)Sha256::hash(as_bytes("zzz"));
  (void)Sha256::hash_prefixed(0x01, as_bytes("zzz"));
  h.update(as_bytes("c"));
  EXPECT_EQ(h.finish(), Sha256::hash(as_bytes("abc")));
}

TEST(Sha256, MoveKeepsState) {
  Sha256 a;
  a.update(as_bytes("ab"));
  Sha256 b(std::move(a));
  b.update(as_bytes("c"));
  EXPECT_EQ(b.finish(), Sha256::hash(as_bytes("abc")));
  Sha256 c;
  c = std::move(b);
  c.update(as_bytes("abc"));
  EXPECT_EQ(c.finish(), Sha256::hash(as_bytes("abc")));
}

TEST(Sha256, ThreadsHashIndependently) {
  Sha256Digest results[4];
  std::thread threads[4];
  for (int t = 0; t < 4; ++t) {
    threads[t] = std::thread([&results, t] {
      for (int i = 0; i < 200; ++i) results[t] = Sha256::hash(as_bytes("abc"));
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, Sha256::hash(as_bytes("abc")));
}

}  // namespace
}  // namespace ob
