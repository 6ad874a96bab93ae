#include "discovery/dht.h"

#include <opendht.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "core/multibase.h"
#include "proto/p2p.pb.h"

namespace ob::discovery {
namespace {

constexpr std::string_view kSignatureContext = "open-bucket/v1/peer-record";
constexpr std::string_view kPeerKeyPrefix = "open-bucket/v1/peer/";
constexpr std::string_view kProviderKeyPrefix = "open-bucket/v1/providers/";
constexpr std::string_view kIndexSignatureContext = "open-bucket/v1/index-record";
constexpr std::string_view kIndexKeyPrefix = "open-bucket/v1/index/";
constexpr std::size_t kMaxIndexRecordBytes = 1024;
constexpr std::size_t kMaxIndexCidBytes = 256;
constexpr std::size_t kMaxRecordBytes = 4096;
constexpr std::size_t kMaxAddresses = 16;
constexpr std::size_t kMaxAddressBytes = 256;
constexpr std::size_t kMaxRoles = 8;
constexpr std::size_t kMaxRoleBytes = 32;

Bytes signed_message(std::string_view record, std::string_view context = kSignatureContext) {
  // Sized once and filled: vector::insert here trips GCC 12's false -Warray-bounds.
  Bytes message(context.size() + record.size());
  std::copy(context.begin(), context.end(), message.begin());
  std::copy(record.begin(), record.end(), message.begin() + static_cast<std::ptrdiff_t>(context.size()));
  return message;
}

Result<void> check_limits(const PeerRecord& r) {
  if (r.addresses.size() > kMaxAddresses || r.roles.size() > kMaxRoles) {
    return fail(Errc::invalid_argument, "peer record has too many addresses or roles");
  }
  for (const auto& a : r.addresses) {
    if (a.empty() || a.size() > kMaxAddressBytes) return fail(Errc::invalid_argument, "peer record address too long");
  }
  for (const auto& role : r.roles) {
    if (role.size() > kMaxRoleBytes) return fail(Errc::invalid_argument, "peer record role too long");
  }
  return {};
}

dht::InfoHash key_of(std::string_view prefix, ByteView id) {
  std::string key(prefix);
  key.append(as_chars(id));
  return dht::InfoHash::get(key);
}

// One value id per peer, so a re-announcement replaces the peer's previous record.
dht::Value::Id value_id_of(const net::PeerId& peer) {
  const auto& key = peer.public_key();
  dht::Value::Id id = 0;
  for (int i = 0; i < 8; ++i) id = (id << 8) | key[static_cast<std::size_t>(i)];
  return id;
}

}  // namespace

Result<Bytes> PeerRecord::sign(const net::Identity& identity) const {
  if (identity.peer_id() != peer) return fail(Errc::invalid_argument, "a peer record can only be signed by its peer");
  OB_TRY_VOID(check_limits(*this));
  openbucket::p2p::v1::PeerRecord pb;
  const Bytes id = peer.to_bytes();
  pb.set_peer_id(std::string(as_chars(id)));
  for (const auto& a : addresses) pb.add_addresses(a);
  for (const auto& role : roles) pb.add_roles(role);
  pb.set_timestamp(timestamp);
  openbucket::p2p::v1::SignedPeerRecord signed_pb;
  signed_pb.set_record(pb.SerializeAsString());
  OB_TRY(net::Signature signature, identity.sign(signed_message(signed_pb.record())));
  signed_pb.set_signature(std::string(as_chars(signature)));
  const std::string out = signed_pb.SerializeAsString();
  if (out.size() > kMaxRecordBytes) return fail(Errc::invalid_argument, "peer record exceeds ", kMaxRecordBytes, " bytes");
  return Bytes(out.begin(), out.end());
}

Result<PeerRecord> PeerRecord::verify(ByteView signed_record) {
  if (signed_record.size() > kMaxRecordBytes) return fail(Errc::invalid_argument, "peer record too large");
  openbucket::p2p::v1::SignedPeerRecord signed_pb;
  openbucket::p2p::v1::PeerRecord pb;
  if (!signed_pb.ParseFromArray(signed_record.data(), static_cast<int>(signed_record.size())) ||
      signed_pb.signature().size() != net::kEd25519SignatureSize ||
      !pb.ParseFromString(signed_pb.record())) {
    return fail(Errc::invalid_argument, "malformed peer record");
  }
  auto peer = net::PeerId::parse(multibase::encode_base58btc(as_bytes(pb.peer_id())));
  if (!peer) return fail(Errc::invalid_argument, "peer record: ", peer.error().message);
  net::Signature signature;
  std::copy(signed_pb.signature().begin(), signed_pb.signature().end(), signature.begin());
  if (!net::verify_signature(peer->public_key(), signed_message(signed_pb.record()), signature)) {
    return fail(Errc::invalid_argument, "peer record signature does not match ", peer->to_string());
  }
  PeerRecord record{*peer, {pb.addresses().begin(), pb.addresses().end()}, {pb.roles().begin(), pb.roles().end()},
                    pb.timestamp()};
  OB_TRY_VOID(check_limits(record));
  return record;
}

Result<Bytes> IndexRecord::sign(const net::Identity& identity) const {
  if (sequence == 0) return fail(Errc::invalid_argument, "an index record's sequence starts at 1");
  if (index_cid.size() > kMaxIndexCidBytes || !Cid::parse(index_cid)) {
    return fail(Errc::invalid_argument, "an index record names a CID, not '", index_cid, "'");
  }
  openbucket::p2p::v1::IndexRecord pb;
  pb.set_locator(std::string(as_chars(ByteView(locator.data(), locator.size()))));
  pb.set_sequence(sequence);
  pb.set_index_cid(index_cid);
  pb.set_timestamp(timestamp);
  openbucket::p2p::v1::SignedIndexRecord signed_pb;
  signed_pb.set_record(pb.SerializeAsString());
  OB_TRY(net::Signature signature, identity.sign(signed_message(signed_pb.record(), kIndexSignatureContext)));
  signed_pb.set_signature(std::string(as_chars(signature)));
  const std::string out = signed_pb.SerializeAsString();
  return Bytes(out.begin(), out.end());
}

Result<IndexRecord> IndexRecord::verify(ByteView signed_record, const net::PeerId& owner, const IndexLocator& locator,
                                        std::uint64_t min_sequence) {
  if (signed_record.size() > kMaxIndexRecordBytes) return fail(Errc::invalid_argument, "index record too large");
  openbucket::p2p::v1::SignedIndexRecord signed_pb;
  openbucket::p2p::v1::IndexRecord pb;
  if (!signed_pb.ParseFromArray(signed_record.data(), static_cast<int>(signed_record.size())) ||
      signed_pb.signature().size() != net::kEd25519SignatureSize || !pb.ParseFromString(signed_pb.record()) ||
      pb.locator().size() != locator.size() || pb.index_cid().size() > kMaxIndexCidBytes) {
    return fail(Errc::invalid_argument, "malformed index record");
  }
  net::Signature signature;
  std::copy(signed_pb.signature().begin(), signed_pb.signature().end(), signature.begin());
  if (!net::verify_signature(owner.public_key(), signed_message(signed_pb.record(), kIndexSignatureContext),
                             signature)) {
    return fail(Errc::invalid_argument, "index record is not signed by ", owner.to_string());
  }
  if (!std::ranges::equal(locator, as_bytes(pb.locator()))) {
    return fail(Errc::invalid_argument, "index record belongs under another locator");
  }
  if (pb.sequence() == 0 || !Cid::parse(pb.index_cid())) return fail(Errc::invalid_argument, "malformed index record");
  if (pb.sequence() < min_sequence) {
    return fail(Errc::corrupt, "stale index record: sequence ", pb.sequence(), " is lower than ", min_sequence,
                " already seen");
  }
  return IndexRecord{locator, pb.sequence(), pb.index_cid(), pb.timestamp()};
}

Discovery::Discovery(std::unique_ptr<dht::DhtRunner> runner) : runner_(std::move(runner)) {}

Discovery::~Discovery() {
  runner_->shutdown({}, true);
  runner_->join();
}

Result<std::unique_ptr<Discovery>> Discovery::start(Options options) {
  auto runner = std::make_unique<dht::DhtRunner>();
  dht::DhtRunner::Config config;
  config.threaded = true;
  config.dht_config.node_config.network = options.network_id;
  if (!options.rate_limits) {
    config.dht_config.node_config.max_req_per_sec = -1;
    config.dht_config.node_config.max_peer_req_per_sec = -1;
  }
  // OpenDHT reports bind failures by throwing; contain them here.
  try {
    runner->run(options.port, config);
  } catch (const std::exception& e) {
    return fail(Errc::io, "cannot start the DHT on UDP port ", options.port, ": ", e.what());
  }
  auto discovery = std::unique_ptr<Discovery>(new Discovery(std::move(runner)));
  for (const auto& node : options.bootstrap) discovery->bootstrap(node);
  return discovery;
}

std::uint16_t Discovery::port() const { return runner_->getBoundPort(AF_INET); }

std::size_t Discovery::node_count() const {
  unsigned good = 0;
  runner_->getNodesStats(AF_INET, &good, nullptr, nullptr, nullptr);
  return good;
}

void Discovery::bootstrap(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return;
  runner_->bootstrap(host_port.substr(0, colon), host_port.substr(colon + 1));
}

Result<void> Discovery::announce_peer(ByteView signed_record) {
  OB_TRY(PeerRecord record, PeerRecord::verify(signed_record));
  dht::Value value(dht::Blob(signed_record.begin(), signed_record.end()));
  value.id = value_id_of(record.peer);
  runner_->put(key_of(kPeerKeyPrefix, record.peer.to_bytes()), std::move(value), dht::DoneCallbackSimple{},
               dht::time_point::max(), true);
  return {};
}

Result<void> Discovery::announce_provider(const Cid& cid, ByteView signed_record) {
  OB_TRY(PeerRecord record, PeerRecord::verify(signed_record));
  dht::Value value(dht::Blob(signed_record.begin(), signed_record.end()));
  value.id = value_id_of(record.peer);
  runner_->put(key_of(kProviderKeyPrefix, cid.to_bytes()), std::move(value), dht::DoneCallbackSimple{},
               dht::time_point::max(), true);
  return {};
}

Result<void> Discovery::put_index_record(const IndexRecord& record, ByteView signed_record) {
  openbucket::p2p::v1::SignedIndexRecord parsed;
  if (signed_record.size() > kMaxIndexRecordBytes ||
      !parsed.ParseFromArray(signed_record.data(), static_cast<int>(signed_record.size()))) {
    return fail(Errc::invalid_argument, "malformed index record");
  }
  dht::Value value(dht::Blob(signed_record.begin(), signed_record.end()));
  value.id = record.sequence;
  runner_->put(key_of(kIndexKeyPrefix, ByteView(record.locator.data(), record.locator.size())), std::move(value),
               dht::DoneCallbackSimple{}, dht::time_point::max(), true);
  return {};
}

void Discovery::cancel_index_record(const IndexLocator& locator, std::uint64_t sequence) {
  runner_->cancelPut(key_of(kIndexKeyPrefix, ByteView(locator.data(), locator.size())), sequence);
}

Result<IndexRecord> Discovery::find_index_record(const IndexLocator& locator, const net::PeerId& owner,
                                                 std::chrono::milliseconds timeout) {
  std::optional<IndexRecord> newest;
  const ByteView id(locator.data(), locator.size());
  get_values(std::string(kIndexKeyPrefix) + std::string(as_chars(id)), timeout, [&](ByteView value) {
    const std::uint64_t seen = newest ? newest->sequence + 1 : 0;
    auto record = IndexRecord::verify(value, owner, locator, seen);
    if (record) newest = std::move(*record);  // forged, foreign or older: dropped
  });
  if (!newest) return fail(Errc::not_found, "no index record in the DHT");
  return *newest;
}

void Discovery::get_values(const std::string& key, std::chrono::milliseconds timeout,
                           const std::function<void(ByteView)>& take) {
  // The DHT calls back on its own thread, possibly after we stopped waiting: the state is
  // shared, and `take` (the caller's) is only called before `closed`.
  struct Pending {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    bool closed = false;
    const std::function<void(ByteView)>* take = nullptr;
  };
  auto pending = std::make_shared<Pending>();
  pending->take = &take;
  runner_->get(
      dht::InfoHash::get(key),
      [pending](const std::vector<std::shared_ptr<dht::Value>>& values) {
        std::lock_guard lock(pending->mutex);
        if (pending->closed) return false;
        for (const auto& v : values) (*pending->take)(ByteView(v->data.data(), v->data.size()));
        return true;
      },
      [pending](bool) {
        std::lock_guard lock(pending->mutex);
        pending->done = true;
        pending->done_cv.notify_all();
      });
  std::unique_lock lock(pending->mutex);
  pending->done_cv.wait_for(lock, timeout, [&] { return pending->done; });
  pending->closed = true;
}

std::vector<PeerRecord> Discovery::get_records(const std::string& key, std::chrono::milliseconds timeout) {
  std::map<net::PeerId, PeerRecord> newest;
  get_values(key, timeout, [&](ByteView value) {
    auto record = PeerRecord::verify(value);
    if (!record) return;  // forged or malformed: not ours to trust
    auto [it, inserted] = newest.try_emplace(record->peer, *record);
    if (!inserted && record->timestamp > it->second.timestamp) it->second = *record;
  });
  std::vector<PeerRecord> out;
  for (auto& [peer, record] : newest) out.push_back(record);
  return out;
}

std::vector<PeerRecord> Discovery::find_providers(const Cid& cid, std::chrono::milliseconds timeout) {
  const Bytes id = cid.to_bytes();
  return get_records(std::string(kProviderKeyPrefix) + std::string(as_chars(id)), timeout);
}

Result<PeerRecord> Discovery::find_peer(const net::PeerId& peer, std::chrono::milliseconds timeout) {
  const Bytes id = peer.to_bytes();
  for (auto& record : get_records(std::string(kPeerKeyPrefix) + std::string(as_chars(id)), timeout)) {
    if (record.peer == peer) return record;
  }
  return fail(Errc::not_found, "peer ", peer.to_string(), " was not found in the DHT");
}

}  // namespace ob::discovery
