// Writes the fuzz targets' seed corpora with the project's own encoders, so the seeds follow the
// formats as they change: make_seeds DIR creates DIR/cid, DIR/multibase, DIR/manifest, and for
// the service targets (inputs in fuzz/frames.h's format) DIR/rest, DIR/tracker, DIR/exchange.
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
#include "frames.h"
#include "proto/p2p.pb.h"
#include "proto/tracker.pb.h"

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

template <typename Message>
std::string serialized(const Message& message) {
  std::string out;
  message.SerializeToString(&out);
  return out;
}

using ob::fuzz::write_frame;

// exchange_fuzz: a file_cid of one byte picks a known file (0 healthy, 1 damaged, 2 absent).
void exchange_seeds(const fs::path& dir, const Cid& not_a_file) {
  namespace pb = openbucket::p2p::v1;
  for (char file : {'\0', '\1', '\2'}) {
    const std::string cid(1, file);
    std::string all;
    pb::HaveRequest have;
    have.set_file_cid(cid);
    write_frame(all, 0, 0, serialized(have));
    pb::ManifestRequest manifest;
    manifest.set_file_cid(cid);
    write_frame(all, 1, 0, serialized(manifest));
    pb::SlotIndexRequest index;
    index.set_file_cid(cid);
    index.set_slot(1);
    index.set_count(3);
    write_frame(all, 2, 0, serialized(index));
    pb::ProveRequest prove;
    prove.set_file_cid(cid);
    prove.set_slot(2);
    prove.set_block(1);
    write_frame(all, 3, 0, serialized(prove));
    std::string wants;
    pb::BlocksWant want;
    want.set_file_cid(cid);
    want.set_slot(0);
    want.set_first(0);
    want.set_count(2);
    write_frame(wants, 0, 0, serialized(want));
    want.clear_file_cid();
    want.set_first(2);
    want.set_count(1);
    write_frame(wants, 0, 0, serialized(want));
    want.set_slot(1);
    want.set_first(0);
    want.set_count(3);
    write_frame(wants, 0, 1, serialized(want));  // arg 1: the peer cancels after this want
    write_frame(all, 4, 0, wants);
    write(dir, std::string("calls-file") + static_cast<char>('0' + file), ob::as_bytes(all));
  }
  pb::HaveRequest have;
  const Bytes raw = not_a_file.to_bytes();
  have.set_file_cid(std::string(raw.begin(), raw.end()));
  std::string one;
  write_frame(one, 0, 0, serialized(have));
  write(dir, "have-raw-cid", ob::as_bytes(one));
}

// tracker_fuzz: peers 1..3 register as consumers, peer 0 uploads, slots are stored, proven,
// audited, time passes, the file is edited and removed. File "\0" is the last registered; a
// one-byte manifest picks a built-in one.
void tracker_seeds(const fs::path& dir, const Bytes& full_manifest) {
  namespace pb = openbucket::tracker::v1;
  std::string s;
  for (std::uint8_t peer = 1; peer <= 3; ++peer) {
    pb::RegisterConsumerRequest consumer;
    consumer.add_addresses("127.0.0.1:" + std::to_string(4000 + peer));
    consumer.set_capacity_bytes(10'000'000'000);
    consumer.set_used_bytes(0);
    write_frame(s, 5, peer, serialized(consumer));
  }
  pb::RegisterFileRequest file;
  file.set_manifest(std::string(1, '\0'));
  file.set_availability(2);
  file.set_tier(pb::TIER_FREE);
  file.set_path("/photos/cat.jpg");
  file.set_size(100'000);
  file.set_hash("0123456789abcdef0123456789abcdef");
  file.add_source_addresses("127.0.0.1:4000");
  write_frame(s, 0, 0, serialized(file));
  pb::HeartbeatRequest heartbeat;
  heartbeat.set_capacity_bytes(10'000'000'000);
  heartbeat.set_free_bytes(9'000'000'000);
  for (std::uint8_t peer = 1; peer <= 3; ++peer) write_frame(s, 6, peer, serialized(heartbeat));
  for (std::uint8_t peer = 1; peer <= 3; ++peer) {
    pb::ReportSlotsRequest reports;
    for (std::uint32_t slot = 0; slot < 3; ++slot) {
      pb::SlotReport* report = reports.add_reports();
      report->set_file_id(std::string(1, '\0'));
      report->set_slot(slot);
      report->set_state(pb::SlotReport::STORED);
      report->set_bytes(65536);
      report->set_millis(20);
    }
    write_frame(s, 7, peer, serialized(reports));
  }
  write_frame(s, 12, 0, std::string(1, '\0'));  // every challenge answered
  pb::CheckHoldersRequest holders;
  holders.set_file_id(std::string(1, '\0'));
  write_frame(s, 1, 0, serialized(holders));
  write_frame(s, 2, 0, serialized(pb::ListFilesRequest()));
  write_frame(s, 11, 25, "");                           // 2.5 s pass
  write_frame(s, 12, 0, std::string("\1\3\0", 3));     // a wrong proof, no answer, a valid one
  for (std::uint8_t peer = 1; peer <= 2; ++peer) write_frame(s, 6, peer, serialized(heartbeat));
  write_frame(s, 11, 50, "");                           // peer 3 goes silent for 5 s
  pb::ReconcileSlotsRequest held;
  pb::HeldSlot* slot = held.add_slots();
  slot->set_file_id(std::string(1, '\0'));
  slot->set_slot(1);
  write_frame(s, 8, 3, serialized(held));
  pb::EditFileRequest edit;
  edit.set_file_id(std::string(1, '\0'));
  edit.set_availability(1);
  edit.set_path("/photos/dog.jpg");
  write_frame(s, 4, 0, serialized(edit));
  write_frame(s, 9, 1, "");
  write_frame(s, 10, 0, "");
  pb::RemoveFileRequest remove;
  remove.set_file_id(std::string(1, '\0'));
  write_frame(s, 3, 0, serialized(remove));
  for (std::uint8_t peer = 1; peer <= 3; ++peer) write_frame(s, 6, peer, serialized(heartbeat));
  write_frame(s, 13, 0, "");
  write(dir, "lifecycle", ob::as_bytes(s));

  std::string full;
  write_frame(full, 5, 1, serialized(pb::RegisterConsumerRequest()));
  file.set_manifest(std::string(full_manifest.begin(), full_manifest.end()));
  file.set_availability(3);
  write_frame(full, 0, 2, serialized(file));
  write_frame(full, 11, 100, "");
  write(dir, "register-full-manifest", ob::as_bytes(full));
}

// rest_fuzz: route indices as the daemon orders them (producer, consumer, wallet routes).
void rest_seeds(const fs::path& dir) {
  enum Route : std::uint8_t {
    kProducerStart, kProducerStop, kUpload, kFiles, kLocalFiles, kDownload, kRemove, kEdit, kProducerConfigs,
    kConsumerStart, kConsumerStop, kConsumerConfigs, kSlots,
    kAccounts, kAddAccount, kDefaultAccount, kBalance, kSend, kRequest,
  };
  const auto seed = [&](const std::string& name, std::initializer_list<std::pair<Route, std::string>> calls) {
    std::string s;
    for (const auto& [route, body] : calls) write_frame(s, route, 0, body);
    write(dir, name, ob::as_bytes(s));
  };
  seed("producer", {{kProducerStart, "{}"},
                    {kUpload, R"({"path": "/data/photo.jpg", "availability": 2, "k": 2, "m": 1, "tier": "free"})"},
                    {kFiles, ""},
                    {kLocalFiles, ""},
                    {kDownload, R"({"fileId": "bafy", "destination": "/tmp/out", "wait": true})"},
                    {kRemove, R"({"remotePath": "/photo.jpg"})"},
                    {kEdit, R"({"fileId": "bafy", "path": "/a.jpg", "availability": 3})"},
                    {kProducerStop, ""}});
  seed("producer-configs", {{kProducerConfigs, R"({"directory": "/produce2", "defaultAvailability": 3, "startOnStartup": true})"},
                            {kProducerConfigs, R"({"startOnStartup": false})"},
                            {kProducerConfigs, R"({"directory": "~/produce3"})"}});
  seed("consumer", {{kConsumerConfigs, R"({"directory": "/consume2", "limit": "2 GB", "startOnStartup": true})"},
                    {kConsumerStart, ""},
                    {kSlots, ""},
                    {kConsumerConfigs, R"({"limit": "500 MB", "account": "main"})"},
                    {kConsumerStop, "{}"}});
  seed("wallet", {{kAddAccount, R"({"passphrase": "correct horse", "name": "main", "words": 12})"},
                  {kAddAccount, R"({"passphrase": "pw", "name": "imported", "mnemonic": "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", "index": 1})"},
                  {kAddAccount, R"({"passphrase": "pw", "privateKey": "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"})"},
                  {kAccounts, ""},
                  {kDefaultAccount, R"({"account": "imported"})"},
                  {kConsumerConfigs, R"({"account": "imported"})"},
                  {kRequest, R"({"amount": "1.5", "account": "main"})"},
                  {kBalance, "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23\n"},
                  {kSend, R"({"to": "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23", "amount": "0.1", "passphrase": "pw"})"}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* target : {"cid", "multibase", "manifest", "rest", "tracker", "exchange"}) {
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

  exchange_seeds(root / "exchange", raw);
  tracker_seeds(root / "tracker", m3);
  rest_seeds(root / "rest");
  return g_failed ? 1 : 0;
}
