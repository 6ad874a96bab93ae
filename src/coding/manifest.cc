#include "coding/manifest.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "proto/manifest.pb.h"

namespace ob {
namespace {

constexpr std::string_view kWrapAadLabel = "open-bucket/v1/key-wrap";
constexpr std::string_view kMetadataAad = "open-bucket/v1/metadata";

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string to_string(ByteView b) { return std::string(as_chars(b)); }

// What sealing and opening a key wrap share: the cipher under the wrap key, the wrap's nonce,
// and the AAD that binds the wrapped key to its salt. `wrap.nonce` must be 12 bytes.
struct WrapContext {
  crypto::Aead aead;
  crypto::Nonce nonce;
  Bytes aad;
};

Result<WrapContext> wrap_context(ByteView master_secret, const KeyWrap& wrap) {
  OB_TRY(crypto::Key wrap_key, crypto::derive_wrap_key(master_secret));
  OB_TRY(crypto::Aead aead, crypto::Aead::make(wrap_key));
  crypto::Nonce nonce;
  std::copy(wrap.nonce.begin(), wrap.nonce.end(), nonce.begin());
  Bytes aad(kWrapAadLabel.begin(), kWrapAadLabel.end());
  aad.insert(aad.end(), wrap.salt.begin(), wrap.salt.end());
  return WrapContext{std::move(aead), nonce, std::move(aad)};
}

}  // namespace

Result<void> CodingParams::validate() const {
  if (k < 1) return fail(Errc::invalid_argument, "k must be at least 1 (got ", k, ")");
  if (std::uint64_t{k} + m > protocol::kMaxSlots) {
    return fail(Errc::invalid_argument, "k + m must be at most ", protocol::kMaxSlots, " (got ",
                std::uint64_t{k} + m, ")");
  }
  if (block_size < protocol::kMinBlockSize || block_size > protocol::kMaxBlockSize ||
      block_size % protocol::kSegmentSize != 0) {
    return fail(Errc::invalid_argument, "block size must be a multiple of ",
                protocol::kSegmentSize, " between ", protocol::kMinBlockSize, " and ",
                protocol::kMaxBlockSize, " bytes (got ", block_size, ")");
  }
  if (std::uint64_t{n()} * block_size > protocol::kMaxStripeBytes) {
    return fail(Errc::invalid_argument, "a stripe of k + m = ", n(), " blocks of ", block_size,
                " bytes exceeds the ", protocol::kMaxStripeBytes / (1024 * 1024),
                " MiB stripe limit; use smaller blocks or fewer slots");
  }
  return {};
}

std::uint64_t CodingParams::stripe_count(std::uint64_t size) const noexcept {
  const std::uint64_t per_stripe = stripe_plaintext_size();
  return std::max<std::uint64_t>(1, size / per_stripe + (size % per_stripe != 0 ? 1 : 0));
}

Bytes Manifest::encode() const {
  openbucket::v1::Manifest pb;
  pb.set_version(kVersion);
  pb.set_original_size(original_size);
  pb.set_block_size(params.block_size);
  pb.set_segment_size(static_cast<std::uint32_t>(protocol::kSegmentSize));
  pb.set_k(params.k);
  pb.set_m(params.m);
  pb.set_cipher(openbucket::v1::CIPHER_AES_256_GCM);
  pb.mutable_key()->set_salt(to_string(key.salt));
  pb.mutable_key()->set_nonce(to_string(key.nonce));
  pb.mutable_key()->set_wrapped_key(to_string(key.wrapped_key));
  for (const merkle::Hash& root : slot_roots) pb.add_slot_roots(to_string(root));
  pb.set_encrypted_metadata(to_string(encrypted_metadata));

  Bytes out(pb.ByteSizeLong());
  google::protobuf::io::ArrayOutputStream array(out.data(), static_cast<int>(out.size()));
  google::protobuf::io::CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  pb.SerializeWithCachedSizes(&coded);
  return out;
}

Result<Manifest> Manifest::decode(ByteView encoded) {
  if (encoded.size() > protocol::kMaxManifestSize) {
    return fail(Errc::corrupt, "manifest of ", encoded.size(), " bytes exceeds the ",
                protocol::kMaxManifestSize, "-byte limit");
  }
  openbucket::v1::Manifest pb;
  if (!pb.ParseFromArray(encoded.data(), static_cast<int>(encoded.size()))) {
    return fail(Errc::corrupt, "manifest is not a valid protobuf message");
  }
  // Unknown fields would be covered by the CID but ignored by this reader: refuse them, so
  // that a newer format is never half-understood. New formats bump the version.
  if (!pb.GetReflection()->GetUnknownFields(pb).empty() ||
      !pb.key().GetReflection()->GetUnknownFields(pb.key()).empty()) {
    return fail(Errc::corrupt, "manifest has unknown fields");
  }
  if (pb.version() != kVersion) {
    return fail(Errc::corrupt, "unsupported manifest version ", pb.version());
  }
  if (pb.cipher() != openbucket::v1::CIPHER_AES_256_GCM) {
    return fail(Errc::corrupt, "unsupported cipher ", static_cast<int>(pb.cipher()));
  }
  if (pb.segment_size() != protocol::kSegmentSize) {
    return fail(Errc::corrupt, "unsupported segment size ", pb.segment_size());
  }

  Manifest manifest;
  manifest.params = {pb.k(), pb.m(), pb.block_size()};
  if (auto ok = manifest.params.validate(); !ok) {
    return fail(Errc::corrupt, "manifest coding parameters: ", ok.error().message);
  }
  manifest.original_size = pb.original_size();
  // Stripe offsets are computed in 64-bit arithmetic everywhere: keep them there.
  const std::uint64_t stripes = manifest.stripe_count();
  constexpr auto kMaxOffset = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (stripes > kMaxOffset / manifest.params.block_size) {
    return fail(Errc::corrupt, "manifest original size ", manifest.original_size, " is too large");
  }

  const auto& key = pb.key();
  if (key.salt().size() != protocol::kFileKeySaltSize || key.nonce().size() != protocol::kNonceSize ||
      key.wrapped_key().size() != protocol::kKeySize + protocol::kTagSize) {
    return fail(Errc::corrupt, "manifest key wrap has wrong field sizes");
  }
  manifest.key = {to_bytes(key.salt()), to_bytes(key.nonce()), to_bytes(key.wrapped_key())};

  if (static_cast<std::uint64_t>(pb.slot_roots_size()) != manifest.params.n()) {
    return fail(Errc::corrupt, "manifest has ", pb.slot_roots_size(), " slot roots for k + m = ",
                manifest.params.n());
  }
  manifest.slot_roots.reserve(manifest.params.n());
  for (const std::string& root : pb.slot_roots()) {
    if (root.size() != protocol::kSha256Size) {
      return fail(Errc::corrupt, "manifest slot root of ", root.size(), " bytes, expected 32");
    }
    merkle::Hash hash;
    std::memcpy(hash.data(), root.data(), hash.size());
    manifest.slot_roots.push_back(hash);
  }

  if (pb.encrypted_metadata().size() < protocol::kTagSize) {
    return fail(Errc::corrupt, "manifest metadata is shorter than its tag");
  }
  manifest.encrypted_metadata = to_bytes(pb.encrypted_metadata());
  // Protobuf accepts many encodings of one message (repeated scalars, oversized varints cut to
  // 32 bits, any field order). One manifest must have one encoding, so one file one ID.
  if (manifest.encode() != Bytes(encoded.begin(), encoded.end())) {
    return fail(Errc::corrupt, "manifest is not in canonical encoding");
  }
  return manifest;
}

Cid Manifest::cid_of(ByteView encoded) {
  return Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(encoded));
}

Result<std::pair<crypto::Key, KeyWrap>> new_file_key(ByteView master_secret) {
  KeyWrap wrap;
  wrap.salt.resize(protocol::kFileKeySaltSize);
  wrap.nonce.resize(protocol::kNonceSize);
  wrap.wrapped_key.resize(protocol::kKeySize + protocol::kTagSize);
  OB_TRY_VOID(crypto::random_bytes(wrap.salt));
  OB_TRY_VOID(crypto::random_bytes(wrap.nonce));
  OB_TRY(crypto::Key file_key, crypto::derive_file_key(master_secret, wrap.salt));
  OB_TRY(WrapContext ctx, wrap_context(master_secret, wrap));
  OB_TRY_VOID(ctx.aead.seal(ctx.nonce, ctx.aad, file_key,
                        MutableByteView(wrap.wrapped_key).first(protocol::kKeySize),
                        MutableByteView(wrap.wrapped_key).subspan(protocol::kKeySize)));
  return std::pair{file_key, std::move(wrap)};
}

Result<crypto::Key> unwrap_file_key(ByteView master_secret, const KeyWrap& wrap) {
  if (wrap.nonce.size() != protocol::kNonceSize ||
      wrap.wrapped_key.size() != protocol::kKeySize + protocol::kTagSize) {
    return fail(Errc::corrupt, "key wrap has wrong field sizes");
  }
  OB_TRY(WrapContext ctx, wrap_context(master_secret, wrap));
  crypto::Key file_key;
  const ByteView wrapped(wrap.wrapped_key);
  if (auto ok = ctx.aead.open(ctx.nonce, ctx.aad, wrapped.first(protocol::kKeySize),
                          wrapped.subspan(protocol::kKeySize), file_key);
      !ok) {
    if (ok.error().code == Errc::corrupt) {
      return fail(Errc::corrupt,
                  "the file key does not open with this master secret (another owner's file, or "
                  "a damaged manifest)");
    }
    return std::unexpected(ok.error());
  }
  return file_key;
}

Result<Bytes> seal_metadata(const crypto::Key& file_key, const FileMetadata& metadata) {
  openbucket::v1::FileMetadata pb;
  pb.set_name(metadata.name);
  pb.set_mime_type(metadata.mime_type);
  const std::string plain = pb.SerializeAsString();
  Bytes sealed(plain.size() + protocol::kTagSize);
  OB_TRY(crypto::Aead aead, crypto::Aead::make(file_key));
  OB_TRY_VOID(aead.seal(crypto::metadata_nonce(), as_bytes(kMetadataAad), as_bytes(plain),
                        MutableByteView(sealed).first(plain.size()),
                        MutableByteView(sealed).subspan(plain.size())));
  return sealed;
}

Result<FileMetadata> open_metadata(const crypto::Key& file_key, ByteView sealed) {
  if (sealed.size() < protocol::kTagSize) return fail(Errc::corrupt, "metadata too short");
  const std::size_t plain_size = sealed.size() - protocol::kTagSize;
  Bytes plain(plain_size);
  OB_TRY(crypto::Aead aead, crypto::Aead::make(file_key));
  if (auto ok = aead.open(crypto::metadata_nonce(), as_bytes(kMetadataAad),
                          sealed.first(plain_size), sealed.subspan(plain_size), plain);
      !ok) {
    return std::unexpected(prefixed(ok.error(), "file metadata"));
  }
  openbucket::v1::FileMetadata pb;
  if (!pb.ParseFromArray(plain.data(), static_cast<int>(plain.size()))) {
    return fail(Errc::corrupt, "file metadata is not a valid protobuf message");
  }
  return FileMetadata{pb.name(), pb.mime_type()};
}

}  // namespace ob
