#include "node/producer/file_index.h"

#include <algorithm>

#include "proto/manifest.pb.h"

namespace ob::producer {
namespace {

constexpr std::uint8_t kSealedVersion = 1;
constexpr std::string_view kIndexKeyLabel = "open-bucket/v1/index-key";
constexpr std::string_view kLocatorLabel = "open-bucket/v1/index-locator";
constexpr std::string_view kAad = "open-bucket/v1/index";
constexpr std::size_t kTagSize = 16;
constexpr std::size_t kHeaderSize = 1 + protocol::kNonceSize;

}  // namespace

Result<IndexKeys> derive_index_keys(ByteView master_secret) {
  IndexKeys keys;
  OB_TRY(keys.key, crypto::hkdf_sha256(master_secret, {}, kIndexKeyLabel));
  OB_TRY(crypto::Key locator, crypto::hkdf_sha256(master_secret, {}, kLocatorLabel));
  std::copy(locator.begin(), locator.end(), keys.locator.begin());
  return keys;
}

Result<Bytes> seal_index(const std::vector<IndexEntry>& entries, const crypto::Key& key) {
  if (entries.size() > kMaxIndexEntries) return fail(Errc::invalid_argument, "the index holds at most ", kMaxIndexEntries, " files");
  openbucket::v1::FileIndex index;
  index.set_version(1);
  for (const IndexEntry& e : entries) {
    auto* pb = index.add_entries();
    pb->set_file_id(e.file_id);
    pb->set_path(e.path);
    pb->set_size(e.size);
    pb->set_md5(e.md5);
    pb->set_tier(e.tier);
    pb->set_k(e.k);
    pb->set_m(e.m);
    pb->set_availability(e.availability);
    pb->set_request_id(e.request_id);
    pb->set_created_unix(e.created_unix);
  }
  const std::string plain = index.SerializeAsString();
  Bytes sealed(kHeaderSize + plain.size() + kTagSize);
  sealed[0] = kSealedVersion;
  crypto::Nonce nonce;
  OB_TRY_VOID(crypto::random_bytes(nonce));
  std::copy(nonce.begin(), nonce.end(), sealed.begin() + 1);
  OB_TRY(crypto::Aead aead, crypto::Aead::make(key));
  const MutableByteView out(sealed.data() + kHeaderSize, plain.size());
  const MutableByteView tag(sealed.data() + kHeaderSize + plain.size(), kTagSize);
  OB_TRY_VOID(aead.seal(nonce, as_bytes(kAad), as_bytes(plain), out, tag));
  return sealed;
}

Result<std::vector<IndexEntry>> open_index(ByteView sealed, const crypto::Key& key) {
  if (sealed.size() > kMaxSealedIndexBytes) return fail(Errc::invalid_argument, "the file index is too large");
  if (sealed.size() < kHeaderSize + kTagSize) return fail(Errc::corrupt, "not a file index: too short");
  if (sealed[0] != kSealedVersion) return fail(Errc::corrupt, "file index version ", int{sealed[0]}, " is unknown");
  crypto::Nonce nonce;
  std::copy_n(sealed.begin() + 1, nonce.size(), nonce.begin());
  const std::size_t size = sealed.size() - kHeaderSize - kTagSize;
  Bytes plain(size);
  OB_TRY(crypto::Aead aead, crypto::Aead::make(key));
  if (auto opened = aead.open(nonce, as_bytes(kAad), sealed.subspan(kHeaderSize, size),
                              sealed.subspan(kHeaderSize + size, kTagSize), plain);
      !opened) {
    return fail(Errc::corrupt, "the file index does not open with these keys (another owner's, or damaged)");
  }
  openbucket::v1::FileIndex index;
  if (!index.ParseFromArray(plain.data(), static_cast<int>(plain.size())) || index.version() != 1) {
    return fail(Errc::corrupt, "not a file index of version 1");
  }
  if (static_cast<std::size_t>(index.entries_size()) > kMaxIndexEntries) {
    return fail(Errc::invalid_argument, "the file index holds more than ", kMaxIndexEntries, " files");
  }
  std::vector<IndexEntry> entries;
  entries.reserve(static_cast<std::size_t>(index.entries_size()));
  for (const auto& pb : index.entries()) {
    entries.push_back(IndexEntry{pb.file_id(), pb.path(), pb.size(), pb.md5(), pb.tier(), pb.k(), pb.m(),
                                 pb.availability(), pb.request_id(), pb.created_unix()});
  }
  return entries;
}

}  // namespace ob::producer
