// Fuzz target: Manifest::decode of arbitrary bytes. Manifests arrive from disk and from peers,
// and decode() promises to treat its input as hostile (coding/manifest.h).
//
// Beyond "no crash, no sanitizer report", it checks:
//   - failures are corrupt with a message (manifest.h's contract);
//   - what decodes is canonical: encode() gives back exactly the input (one file, one ID);
//   - the decoded manifest keeps the invariants decode() promises: valid coding parameters,
//     k + m roots, key-wrap field sizes, a tag's worth of metadata, stripe offsets that fit
//     63 bits;
//   - its encoding decodes again to the same fields, and its file ID is a manifest CID that
//     survives text and binary round trips.

#include <cstddef>
#include <cstdint>
#include <limits>

#include "coding/manifest.h"
#include "core/protocol.h"
#include "fuzz_check.h"

namespace {

using ob::Bytes;
using ob::ByteView;
using ob::Manifest;
namespace protocol = ob::protocol;

bool same_manifest(const Manifest& a, const Manifest& b) {
  return a.original_size == b.original_size && a.params == b.params && a.key.salt == b.key.salt &&
         a.key.nonce == b.key.nonce && a.key.wrapped_key == b.key.wrapped_key &&
         a.slot_roots == b.slot_roots && a.encrypted_metadata == b.encrypted_metadata;
}

void check_invariants(const Manifest& m) {
  OB_FUZZ_CHECK(m.params.validate().has_value());
  OB_FUZZ_CHECK(m.slot_roots.size() == m.params.n());
  OB_FUZZ_CHECK(m.key.salt.size() == protocol::kFileKeySaltSize);
  OB_FUZZ_CHECK(m.key.nonce.size() == protocol::kNonceSize);
  OB_FUZZ_CHECK(m.key.wrapped_key.size() == protocol::kKeySize + protocol::kTagSize);
  OB_FUZZ_CHECK(m.encrypted_metadata.size() >= protocol::kTagSize);
  const std::uint64_t stripes = m.stripe_count();
  OB_FUZZ_CHECK(stripes >= 1);
  OB_FUZZ_CHECK(stripes <= std::numeric_limits<std::int64_t>::max() / m.params.block_size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView in(data, size);
  auto manifest = Manifest::decode(in);
  if (!manifest) {
    OB_FUZZ_CHECK(manifest.error().code == ob::Errc::corrupt);
    OB_FUZZ_CHECK(!manifest.error().message.empty());
    return 0;
  }
  check_invariants(*manifest);

  const Bytes encoded = manifest->encode();
  OB_FUZZ_CHECK(encoded == Bytes(in.begin(), in.end()));
  auto again = Manifest::decode(encoded);
  OB_FUZZ_CHECK(again.has_value());
  OB_FUZZ_CHECK(same_manifest(*again, *manifest));

  const ob::Cid id = Manifest::cid_of(in);
  OB_FUZZ_CHECK(id.version() == 1 && id.codec() == protocol::kCodecManifest);
  auto parsed = ob::Cid::parse(id.to_string());
  OB_FUZZ_CHECK(parsed.has_value() && *parsed == id);
  auto from_bytes = ob::Cid::from_bytes(id.to_bytes());
  OB_FUZZ_CHECK(from_bytes.has_value() && *from_bytes == id);
  return 0;
}
