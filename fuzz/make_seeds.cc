// Writes the fuzz targets' seed corpora with the project's own encoders, so the seeds follow the
// formats as they change: make_seeds DIR creates DIR/cid, DIR/multibase and DIR/manifest.
// fuzz/CMakeLists.txt runs it at build time; scripts/fuzz.sh copies the result to a scratch
// corpus. Deterministic: the same build writes the same bytes.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "coding/manifest.h"
#include "core/cid.h"
#include "core/multibase.h"
#include "core/protocol.h"

namespace {

namespace fs = std::filesystem;
using ob::Bytes;
using ob::ByteView;
using ob::Cid;
using ob::Manifest;
namespace multibase = ob::multibase;
namespace protocol = ob::protocol;

bool g_failed = false;

void write(const fs::path& dir, const std::string& name, ByteView bytes) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "make_seeds: cannot write %s\n", (dir / name).c_str());
    g_failed = true;
  }
}
void write(const fs::path& dir, const std::string& name, std::string_view text) {
  write(dir, name, ob::as_bytes(text));
}

Bytes filled(std::size_t size, std::uint8_t first) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(first + 31 * i);
  return out;
}

// A valid manifest with fixed key material (decode checks sizes, not the wrap) and metadata
// sealed under a fixed key, as the engine would write it.
Bytes manifest_bytes(std::uint64_t original_size, ob::CodingParams params, std::string_view name) {
  Manifest m;
  m.original_size = original_size;
  m.params = params;
  m.key = {filled(protocol::kFileKeySaltSize, 1), filled(protocol::kNonceSize, 2),
           filled(protocol::kKeySize + protocol::kTagSize, 3)};
  for (std::uint32_t i = 0; i < params.n(); ++i) {
    ob::merkle::Hash root{};
    const Bytes b = filled(root.size(), static_cast<std::uint8_t>(10 + i));
    std::copy(b.begin(), b.end(), root.begin());
    m.slot_roots.push_back(root);
  }
  ob::crypto::Key key{};
  key.fill(0x42);
  auto sealed = ob::seal_metadata(key, {std::string(name), "application/octet-stream"});
  if (!sealed) {
    std::fprintf(stderr, "make_seeds: %s\n", sealed.error().message.c_str());
    g_failed = true;
    return {};
  }
  m.encrypted_metadata = std::move(*sealed);
  Bytes encoded = m.encode();
  if (auto ok = Manifest::decode(encoded); !ok) {
    std::fprintf(stderr, "make_seeds: manifest seed does not decode: %s\n", ok.error().message.c_str());
    g_failed = true;
  }
  return encoded;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* target : {"cid", "multibase", "manifest"}) {
    fs::create_directories(root / target);
  }

  // Manifests: the default coding, a zero-size file with one slot, a wide stripe.
  const Bytes m1 = manifest_bytes(12345, {4, 2, 65536}, "photo.jpg");
  const Bytes m2 = manifest_bytes(0, {1, 0, 4096}, "");
  const Bytes m3 = manifest_bytes(std::uint64_t{1} << 40, {10, 5, 1 << 20}, "backup.tar");
  write(root / "manifest", "k4m2", m1);
  write(root / "manifest", "k1m0-empty", m2);
  write(root / "manifest", "k10m5-1TiB", m3);

  // CIDs: text and binary of a raw block, a CIDv0, a manifest (the file ID), a segment-tree block.
  const Cid raw = Cid::raw_sha256(ob::as_bytes("hello world"));
  auto v0 = Cid::parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
  const Cid file_id = Manifest::cid_of(m1);
  auto segment = ob::Multihash::make(protocol::kMultihashSegmentTree, filled(32, 7));
  if (!v0 || !segment) {
    std::fprintf(stderr, "make_seeds: cannot build the CID seeds\n");
    return 1;
  }
  const Cid block = Cid::v1(protocol::kCodecRaw, *segment);
  const fs::path cid = root / "cid";
  write(cid, "raw-text", raw.to_string());
  write(cid, "raw-text-base58", raw.to_string(multibase::Base::base58btc));
  write(cid, "raw-bytes", raw.to_bytes());
  write(cid, "v0-text", v0->to_string());
  write(cid, "v0-bytes", v0->to_bytes());
  write(cid, "manifest-text", file_id.to_string());
  write(cid, "manifest-bytes", file_id.to_bytes());
  write(cid, "segment-tree-bytes", block.to_bytes());

  // Multibase: both bases, with leading zero bytes (base58btc's '1's), and a CID's text.
  const fs::path mb = root / "multibase";
  const Bytes with_zeros = {0, 0, 1, 2, 3, 0xfe, 0xff};
  write(mb, "base32", multibase::encode(multibase::Base::base32, ob::as_bytes("hello world")));
  write(mb, "base32-zeros", multibase::encode(multibase::Base::base32, with_zeros));
  write(mb, "base58btc", multibase::encode(multibase::Base::base58btc, ob::as_bytes("hello world")));
  write(mb, "base58btc-zeros", multibase::encode(multibase::Base::base58btc, with_zeros));
  write(mb, "cid", raw.to_string());
  return g_failed ? 1 : 0;
}
