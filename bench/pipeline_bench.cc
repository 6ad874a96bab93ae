// Throughput of each stage of the encode and retrieve pipelines, alone and together, on one core.
//
// DESIGN.md "Performance targets": the encode pipeline (chunk + encrypt + hash + erasure code)
// must reach >= 0.6 x the speed of its slowest stage measured alone, in the same run.
// bench/pipeline_ratio.sh runs this binary and prints that ratio; bench/README.md explains it.
//
// Every benchmark except BM_Sha256Raw reports bytes processed as PLAINTEXT bytes of the pipeline
// (k * chunk_size per stripe), whatever the stage actually touches, so that all figures of one
// (k, m) are directly comparable: "this stage alone could carry X MB/s of file data".
// Blocks are 64 KiB; (k, m) = (4, 2) and (10, 4). Every benchmark walks a 64 MiB working set
// stripe by stripe so that the caches do not hold the whole input.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "coding/crypto.h"
#include "coding/erasure.h"
#include "coding/manifest.h"
#include "coding/merkle.h"
#include "coding/stripe.h"
#include "core/protocol.h"
#include "core/sha256.h"

namespace {

using ob::ByteView;
using ob::CodingParams;
using ob::MutableByteView;

constexpr std::size_t kBlockSize = ob::protocol::kDefaultBlockSize;  // 64 KiB
constexpr std::size_t kWorkingSet = 64 * 1024 * 1024;                // 64 MiB

// A 64-byte aligned buffer, as ISA-L and AES prefer (StripeBuffer aligns the same way).
struct FreeDeleter {
  void operator()(std::uint8_t* p) const noexcept { std::free(p); }
};
using AlignedBuf = std::unique_ptr<std::uint8_t, FreeDeleter>;

AlignedBuf aligned_buffer(std::size_t size) {
  void* p = std::aligned_alloc(64, size);
  if (p == nullptr) throw std::bad_alloc();
  return AlignedBuf(static_cast<std::uint8_t*>(p));
}

// Fills with xorshift64* output: incompressible-looking, cheap, deterministic.
void fill_pseudo_random(std::uint8_t* p, std::size_t size, std::uint64_t seed) {
  std::uint64_t x = seed | 1;
  for (std::size_t off = 0; off < size; off += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const std::uint64_t v = x * 0x2545F4914F6CDD1DULL;
    std::memcpy(p + off, &v, std::min<std::size_t>(8, size - off));
  }
}

// The 64 MiB plaintext input every pipeline benchmark reads from, made once.
ByteView source() {
  static const AlignedBuf buf = [] {
    AlignedBuf b = aligned_buffer(kWorkingSet);
    fill_pseudo_random(b.get(), kWorkingSet, 0x0b0b0b0b);
    return b;
  }();
  return {buf.get(), kWorkingSet};
}

ob::crypto::Key bench_key() {
  ob::crypto::Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return key;
}

CodingParams params_of(const benchmark::State& state) {
  CodingParams p;
  p.k = static_cast<std::uint32_t>(state.range(0));
  p.m = static_cast<std::uint32_t>(state.range(1));
  p.block_size = static_cast<std::uint32_t>(kBlockSize);
  return p;
}

// Set-up that cannot fail on a sane build; a benchmark with a broken set-up measures nothing.
template <typename T>
T must(ob::Result<T> r) {
  if (!r) {
    std::fprintf(stderr, "pipeline_bench: set-up failed: %s\n", r.error().message.c_str());
    std::abort();
  }
  return std::move(r).value();
}

void set_plaintext_bytes(benchmark::State& state, const CodingParams& p) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(p.stripe_plaintext_size()));
}

// A working set of whole stripes (n blocks each) of about kWorkingSet bytes, contiguous.
struct StripeSet {
  explicit StripeSet(const CodingParams& p)
      : n(p.n()),
        stripes(std::max<std::size_t>(1, kWorkingSet / (n * kBlockSize))),
        buf(aligned_buffer(stripes * n * kBlockSize)) {
    fill_pseudo_random(buf.get(), stripes * n * kBlockSize, 0x5eed);
  }
  std::uint8_t* block(std::size_t stripe, std::size_t i) const {
    return buf.get() + (stripe * n + i) * kBlockSize;
  }
  std::size_t n;
  std::size_t stripes;
  AlignedBuf buf;
};

// --- stages alone -----------------------------------------------------------------------------

// Chunking: copying the file's bytes into the encoder's plaintext buffers.
void BM_Chunk(benchmark::State& state) {
  const CodingParams p = params_of(state);
  auto enc = must(ob::StripeEncoder::make(p, bench_key()));
  const ByteView src = source();
  const std::size_t chunk = p.chunk_size();
  const std::size_t stripe_bytes = p.stripe_plaintext_size();
  std::size_t off = 0;
  for (auto _ : state) {
    if (off + stripe_bytes > src.size()) off = 0;
    for (std::size_t d = 0; d < p.k; ++d) {
      std::memcpy(enc.plaintext(d).data(), src.data() + off + d * chunk, chunk);
    }
    benchmark::DoNotOptimize(enc.plaintext(0).data());
    benchmark::ClobberMemory();
    off += stripe_bytes;
  }
  set_plaintext_bytes(state, p);
}

// Encryption: AES-256-GCM seal of k chunks in place, tag into the block's last 16 bytes.
void BM_Encrypt(benchmark::State& state) {
  const CodingParams p = params_of(state);
  auto aead = must(ob::crypto::Aead::make(bench_key()));
  StripeSet set(p);
  const std::size_t chunk = p.chunk_size();
  std::size_t s = 0;
  std::uint64_t index = 0;
  for (auto _ : state) {
    if (s == set.stripes) s = 0;
    for (std::size_t d = 0; d < p.k; ++d) {
      MutableByteView block{set.block(s, d), kBlockSize};
      auto ok = aead.seal(ob::crypto::block_nonce(index++), {}, block.first(chunk), block.first(chunk),
                          block.subspan(chunk));
      if (!ok) state.SkipWithError(ok.error().message.c_str());
    }
    benchmark::ClobberMemory();
    ++s;
  }
  set_plaintext_bytes(state, p);
}

// Decryption (retrieval): AES-256-GCM open of k chunks in place. Extra, for the decode ratio.
void BM_Decrypt(benchmark::State& state) {
  const CodingParams p = params_of(state);
  auto aead = must(ob::crypto::Aead::make(bench_key()));
  StripeSet set(p);
  const std::size_t chunk = p.chunk_size();
  // Seal every data block once, then open into a separate buffer so the sealed set stays valid
  // lap after lap (the decoder opens in place; the cost of AES-GCM is the same).
  for (std::size_t s = 0; s < set.stripes; ++s) {
    for (std::size_t d = 0; d < p.k; ++d) {
      MutableByteView block{set.block(s, d), kBlockSize};
      auto ok = aead.seal(ob::crypto::block_nonce(s * p.k + d), {}, block.first(chunk), block.first(chunk),
                          block.subspan(chunk));
      if (!ok) state.SkipWithError(ok.error().message.c_str());
    }
  }
  AlignedBuf out = aligned_buffer(kBlockSize * p.k);
  std::size_t s = 0;
  for (auto _ : state) {
    if (s == set.stripes) s = 0;
    for (std::size_t d = 0; d < p.k; ++d) {
      ByteView block{set.block(s, d), kBlockSize};
      auto ok = aead.open(ob::crypto::block_nonce(s * p.k + d), {}, block.first(chunk), block.subspan(chunk),
                          MutableByteView{out.get() + d * kBlockSize, chunk});
      if (!ok) state.SkipWithError(ok.error().message.c_str());
    }
    benchmark::ClobberMemory();
    ++s;
  }
  set_plaintext_bytes(state, p);
}

// Hashes the segment-tree roots of the first `count(p)` blocks of each stripe.
template <typename Count>
void hash_blocks(benchmark::State& state, Count count) {
  const CodingParams p = params_of(state);
  StripeSet set(p);
  const std::size_t blocks = count(p);
  std::size_t s = 0;
  for (auto _ : state) {
    if (s == set.stripes) s = 0;
    for (std::size_t i = 0; i < blocks; ++i) {
      ob::merkle::Hash h = ob::merkle::block_root(ByteView{set.block(s, i), kBlockSize});
      benchmark::DoNotOptimize(h);
    }
    ++s;
  }
  set_plaintext_bytes(state, p);
}

// Hashing: the roots of all n blocks of a stripe (what encode() hashes).
void BM_Hash(benchmark::State& state) {
  hash_blocks(state, [](const CodingParams& p) -> std::size_t { return p.n(); });
}

// Hashing on retrieval: the roots of the k blocks a stripe is rebuilt from (accept() of k
// blocks). Extra, for the decode ratio.
void BM_HashK(benchmark::State& state) {
  hash_blocks(state, [](const CodingParams& p) -> std::size_t { return p.k; });
}

// Erasure coding: m parity blocks from k data blocks (ISA-L).
void BM_Erasure(benchmark::State& state) {
  const CodingParams p = params_of(state);
  auto coder = must(ob::ErasureCoder::make(p.k, p.m));
  StripeSet set(p);
  std::vector<const std::uint8_t*> data(p.k);
  std::vector<std::uint8_t*> parity(p.m);
  std::size_t s = 0;
  for (auto _ : state) {
    if (s == set.stripes) s = 0;
    for (std::size_t d = 0; d < p.k; ++d) data[d] = set.block(s, d);
    for (std::size_t j = 0; j < p.m; ++j) parity[j] = set.block(s, p.k + j);
    coder.encode(data, parity, kBlockSize);
    benchmark::ClobberMemory();
    ++s;
  }
  set_plaintext_bytes(state, p);
}

// Erasure decoding: rebuild the first m data blocks from the other k blocks.
void BM_Decode(benchmark::State& state) {
  const CodingParams p = params_of(state);
  auto coder = must(ob::ErasureCoder::make(p.k, p.m));
  StripeSet set(p);
  std::vector<std::uint8_t*> blocks(set.n);
  for (std::size_t s = 0; s < set.stripes; ++s) {  // real parity, so decode rebuilds real data
    std::vector<const std::uint8_t*> data(p.k);
    std::vector<std::uint8_t*> parity(p.m);
    for (std::size_t d = 0; d < p.k; ++d) data[d] = set.block(s, d);
    for (std::size_t j = 0; j < p.m; ++j) parity[j] = set.block(s, p.k + j);
    coder.encode(data, parity, kBlockSize);
  }
  std::unique_ptr<bool[]> present(new bool[set.n]);
  for (std::size_t i = 0; i < set.n; ++i) present[i] = i >= p.m;  // data blocks 0..m-1 lost
  std::size_t s = 0;
  for (auto _ : state) {
    if (s == set.stripes) s = 0;
    for (std::size_t i = 0; i < set.n; ++i) blocks[i] = set.block(s, i);
    auto ok = coder.decode(blocks, {present.get(), set.n}, kBlockSize);
    if (!ok) state.SkipWithError(ok.error().message.c_str());
    benchmark::ClobberMemory();
    ++s;
  }
  set_plaintext_bytes(state, p);
}

// Baseline: plain one-shot SHA-256 of 64 KiB, as `openssl speed -evp sha256 -bytes 65536`.
// Bytes are the bytes hashed.
void BM_Sha256Raw(benchmark::State& state) {
  const ByteView src = source();
  std::size_t off = 0;
  for (auto _ : state) {
    if (off + kBlockSize > src.size()) off = 0;
    ob::Sha256Digest h = ob::Sha256::hash(src.subspan(off, kBlockSize));
    benchmark::DoNotOptimize(h);
    off += kBlockSize;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(kBlockSize));
}

// --- pipelines --------------------------------------------------------------------------------

// Encode pipeline without I/O: copy plaintext in, then encode() = encrypt + parity + block roots.
void BM_Pipeline(benchmark::State& state) {
  const CodingParams p = params_of(state);
  auto enc = must(ob::StripeEncoder::make(p, bench_key()));
  const ByteView src = source();
  const std::size_t chunk = p.chunk_size();
  const std::size_t stripe_bytes = p.stripe_plaintext_size();
  std::size_t off = 0;
  std::uint64_t stripe = 0;
  for (auto _ : state) {
    if (off + stripe_bytes > src.size()) off = 0;
    for (std::size_t d = 0; d < p.k; ++d) {
      std::memcpy(enc.plaintext(d).data(), src.data() + off + d * chunk, chunk);
    }
    auto ok = enc.encode(stripe++);
    if (!ok) state.SkipWithError(ok.error().message.c_str());
    benchmark::DoNotOptimize(enc.root(0));
    off += stripe_bytes;
  }
  set_plaintext_bytes(state, p);
}

// Retrieval pipeline without I/O: copy the k surviving blocks in (the first m data blocks are
// lost), accept() each (block-root check), decode() = rebuild + decrypt.
void BM_DecodePipeline(benchmark::State& state) {
  const CodingParams p = params_of(state);
  const ob::crypto::Key key = bench_key();
  auto enc = must(ob::StripeEncoder::make(p, key));
  auto dec = must(ob::StripeDecoder::make(p, key));
  // The stored form of the working input: every block of every stripe and its root.
  StripeSet set(p);
  std::vector<ob::merkle::Hash> roots(set.stripes * set.n);
  const ByteView src = source();
  const std::size_t chunk = p.chunk_size();
  for (std::size_t s = 0; s < set.stripes; ++s) {
    for (std::size_t d = 0; d < p.k; ++d) {
      const std::size_t off = (s * p.k + d) * chunk % (src.size() - chunk);
      std::memcpy(enc.plaintext(d).data(), src.data() + off, chunk);
    }
    auto ok = enc.encode(s);
    if (!ok) state.SkipWithError(ok.error().message.c_str());
    for (std::size_t i = 0; i < set.n; ++i) {
      std::memcpy(set.block(s, i), enc.block(i).data(), kBlockSize);
      roots[s * set.n + i] = enc.root(i);
    }
  }
  std::size_t s = 0;
  for (auto _ : state) {
    if (s == set.stripes) s = 0;
    dec.reset();
    for (std::size_t i = p.m; i < set.n; ++i) {
      std::memcpy(dec.block(i).data(), set.block(s, i), kBlockSize);
      if (!dec.accept(i, roots[s * set.n + i])) state.SkipWithError("accept() refused an intact block");
    }
    auto ok = dec.decode(s);
    if (!ok) {
      state.SkipWithError(ok.error().message.c_str());
    } else if (!*ok) {
      state.SkipWithError("decode() rebuilt nothing");
    }
    benchmark::DoNotOptimize(dec.plaintext(0).data());
    ++s;
  }
  set_plaintext_bytes(state, p);
}

void km_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"k", "m"})->Args({4, 2})->Args({10, 4});
}

BENCHMARK(BM_Chunk)->Apply(km_args);
BENCHMARK(BM_Encrypt)->Apply(km_args);
BENCHMARK(BM_Hash)->Apply(km_args);
BENCHMARK(BM_Erasure)->Apply(km_args);
BENCHMARK(BM_Pipeline)->Apply(km_args);
BENCHMARK(BM_Decrypt)->Apply(km_args);
BENCHMARK(BM_HashK)->Apply(km_args);
BENCHMARK(BM_Decode)->Apply(km_args);
BENCHMARK(BM_DecodePipeline)->Apply(km_args);
BENCHMARK(BM_Sha256Raw);

}  // namespace

BENCHMARK_MAIN();
