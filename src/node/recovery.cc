#include "node/recovery.h"

#include <thread>

#include "core/stream.h"
#include "net/identity.h"
#include "node/engine.h"
#include "node/network.h"
#include "node/producer/file_index.h"
#include "node/producer/producer_state.h"
#include "tracker/tracker_client.h"

namespace ob {
namespace {

using Clock = std::chrono::steady_clock;

/// The tracker's copy of the record, verified; not_found when it has none.
Result<discovery::IndexRecord> tracker_record(const tracker::TrackerClient& tracker, const net::PeerId& owner,
                                              const discovery::IndexLocator& locator, std::chrono::milliseconds timeout) {
  openbucket::tracker::v1::GetIndexRecordRequest request;
  request.set_locator(std::string(as_chars(ByteView(locator.data(), locator.size()))));
  openbucket::tracker::v1::GetIndexRecordReply reply;
  auto context = tracker::call_context(timeout);
  const grpc::Status status = tracker.producer().GetIndexRecord(context.get(), request, &reply);
  if (!status.ok()) return std::unexpected(tracker::call_error("asking the tracker for the file index record", status));
  return discovery::IndexRecord::verify(as_bytes(reply.record()), owner, locator);
}

}  // namespace

Result<RecoveredIndex> recover_file_index(const Home& home, const std::function<void(std::string_view)>& progress,
                                          RecoveryOptions options) {
  const auto state_file = home.dir() / "state" / "producer.json";
  std::error_code ec;
  if (std::filesystem::exists(state_file, ec)) {
    return fail(Errc::invalid_argument, "this home has a producer state already: ", state_file.string());
  }
  if (home.config().tracker.empty()) return fail(Errc::invalid_argument, "recovery needs a tracker (--tracker)");
  OB_TRY(tracker::TrackerAddress tracker_address, tracker::TrackerAddress::parse(home.config().tracker));
  OB_TRY(net::Identity identity, net::Identity::load_or_create(home.identity_key_path()));
  OB_TRY(producer::IndexKeys keys, producer::derive_index_keys(home.master_secret()));
  OB_TRY(std::unique_ptr<Engine> engine, Engine::open(home));

  // A node of its own for the search, on free ports: the daemon is not running on a new home.
  NetworkOptions network_options;
  network_options.listen_host = home.config().p2p_host;
  network_options.bootstrap = home.config().bootstrap;
  network_options.network_id = home.config().network_id;
  network_options.dht_rate_limits = home.config().p2p_host != "127.0.0.1";
  OB_TRY(std::unique_ptr<Network> network, Network::start(*engine, identity, network_options));
  const tracker::TrackerClient tracker = tracker::TrackerClient::connect(tracker_address, network->tls());

  // The DHT first. Joining takes a moment: a lookup counts once the node knows other nodes, and
  // "nothing" is believed after kLookups of them (the records may still be travelling) or at
  // the deadline.
  constexpr int kLookups = 3;
  progress("searching the DHT for the file index of these words...");
  const auto deadline = Clock::now() + options.dht_deadline;
  std::optional<discovery::IndexRecord> record;
  std::string found_in;
  for (int lookups = 0; !network_options.bootstrap.empty() && lookups < kLookups;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= std::chrono::milliseconds(0)) break;
    if (network->dht_nodes() > 0) {
      ++lookups;
      if (auto found = network->discovery().find_index_record(keys.locator, identity.peer_id(), left); found) {
        record = std::move(*found);
        found_in = "DHT";
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  // The tracker's copy: when the DHT had nothing, and to refuse a DHT answer older than it.
  progress(record ? "asking the tracker for a newer record..." : "the DHT has none; asking the tracker...");
  auto kept = tracker_record(tracker, identity.peer_id(), keys.locator, options.tracker_timeout);
  if (!kept && kept.error().code != Errc::not_found) {
    if (!record) return std::unexpected(kept.error());
  } else if (kept && (!record || kept->sequence > record->sequence)) {
    record = std::move(*kept);
    found_in = "tracker";
  }
  if (!record) return fail(Errc::not_found, "no file index found for these words");

  progress("reading file index " + record->index_cid + " (sequence " + std::to_string(record->sequence) + ")...");
  OB_TRY(Cid cid, Cid::parse(record->index_cid));
  auto peers = tracker::holder_clients(tracker, record->index_cid, network->tls(), options.tracker_timeout);
  const auto open = [&]() -> Result<FileReader> {
    if (peers) {
      if (auto from_holders = network->open_reader(cid, *peers); from_holders) return from_holders;
    }
    return network->open_reader(cid);  // the DHT's providers, when the tracker names none that answer
  };
  auto reader = open();
  if (!reader) return std::unexpected(prefixed(reader.error(), "reading the file index"));
  if (reader->size() > producer::kMaxSealedIndexBytes) return fail(Errc::invalid_argument, "the file index is too large");
  Bytes sealed;
  sealed.reserve(reader->size());
  const ByteSink sink = memory_sink(sealed);
  while (!reader->done()) OB_TRY_VOID(reader->read_stripe(sink));
  OB_TRY(std::vector<producer::IndexEntry> entries, producer::open_index(sealed, keys.key));

  producer::ProducerState state;
  state.index.entries = std::move(entries);
  state.index.sequence = record->sequence;
  state.index.published = record->index_cid;
  state.index.published_at = record->timestamp;
  OB_TRY_VOID(producer::save_state(state_file, state));
  return RecoveredIndex{record->sequence, record->index_cid, found_in, state.index.entries.size()};
}

}  // namespace ob
