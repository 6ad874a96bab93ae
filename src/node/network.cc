#include "node/network.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "coding/stripe.h"
#include "exchange/exchange_service.h"
#include "exchange/stripe_fetcher.h"

namespace ob {

Network::Network(Engine& engine, const net::Identity& identity, NetworkOptions options)
    : engine_(engine), identity_(identity), options_(std::move(options)) {}

Network::~Network() {
  dht_.reset();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

Result<std::unique_ptr<Network>> Network::start(Engine& engine, const net::Identity& identity,
                                                NetworkOptions options) {
  std::unique_ptr<Network> network(new Network(engine, identity, std::move(options)));
  OB_TRY(network->tls_, net::make_tls_identity(identity));
  Network* self = network.get();
  network->service_ = std::make_unique<exchange::ExchangeService>(engine.blocks(), [self] { return self->slot_stores(); });
  const std::string listen = network->options_.listen_host + ":" + std::to_string(network->options_.p2p_port);
  OB_TRY(auto server, exchange::start_server(listen, *network->service_, network->tls_));
  network->server_ = std::move(server.first);
  network->p2p_address_ = network->options_.listen_host + ":" + std::to_string(server.second);
  OB_TRY(network->dht_, discovery::Discovery::start({network->options_.dht_port, network->options_.network_id,
                                                      network->options_.bootstrap, network->options_.dht_rate_limits}));
  OB_TRY(Bytes record, network->signed_record());
  OB_TRY_VOID(network->dht_->announce_peer(record));
  return network;
}

void Network::set_consumer_slots(std::shared_ptr<const SlotStore> store) {
  std::lock_guard lock(mutex_);
  consumer_slots_ = std::move(store);
}

std::vector<std::shared_ptr<const SlotStore>> Network::slot_stores() const {
  // The engine outlives this Network (start's contract), so its store is shared without owning.
  std::vector<std::shared_ptr<const SlotStore>> stores{
      std::shared_ptr<const SlotStore>(std::shared_ptr<const SlotStore>(), &engine_.slots())};
  std::lock_guard lock(mutex_);
  if (consumer_slots_) stores.push_back(consumer_slots_);
  return stores;
}

std::uint16_t Network::dht_port() const { return dht_->port(); }
std::size_t Network::dht_nodes() const { return dht_->node_count(); }

Result<Bytes> Network::signed_record() const {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const discovery::PeerRecord record{identity_.peer_id(), {p2p_address_}, {"storage"},
                                     static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(now).count())};
  return record.sign(identity_);
}

Result<void> Network::announce(const Cid& cid) {
  OB_TRY(Bytes record, signed_record());
  return dht_->announce_provider(cid, record);
}

void Network::connect(const net::PeerId& peer, const std::string& p2p_address) {
  std::lock_guard lock(mutex_);
  connected_[peer] = p2p_address;
}

std::vector<discovery::PeerRecord> Network::connected() const {
  std::lock_guard lock(mutex_);
  std::vector<discovery::PeerRecord> out;
  for (const auto& [peer, address] : connected_) out.push_back({peer, {address}, {}, 0});
  return out;
}

std::vector<discovery::PeerRecord> Network::providers(const Cid& cid) {
  std::vector<discovery::PeerRecord> out = dht_->find_providers(cid, options_.lookup_timeout);
  for (auto& known : connected()) {
    if (std::none_of(out.begin(), out.end(), [&](const auto& r) { return r.peer == known.peer; })) out.push_back(known);
  }
  std::erase_if(out, [&](const auto& r) { return r.peer == identity_.peer_id(); });
  return out;
}

Result<discovery::PeerRecord> Network::find_peer(const net::PeerId& peer) {
  for (auto& known : connected()) {
    if (known.peer == peer) return known;
  }
  return dht_->find_peer(peer, options_.lookup_timeout);
}

Result<std::vector<exchange::PeerClient>> Network::provider_clients(const Cid& cid) {
  std::vector<exchange::PeerClient> peers;
  for (const auto& record : providers(cid)) {
    for (const auto& address : record.addresses) peers.push_back(exchange::PeerClient::connect(record.peer, address, tls_));
  }
  if (peers.empty()) {
    return fail(Errc::not_found, "file ", cid.to_string(), " is not stored here and no provider of it was found on the network");
  }
  return peers;
}

Result<exchange::FetchReport> Network::fetch(const Cid& cid, const Progress& progress) {
  OB_TRY(bool local, engine_.has(cid));
  if (local) {
    exchange::FetchReport report;
    report.already_local = true;
    return report;
  }
  OB_TRY(std::vector<exchange::PeerClient> peers, provider_clients(cid));
  OB_TRY(exchange::FetchReport report,
         exchange::fetch_file(cid, peers, engine_.blocks(), engine_.slots(), options_.fetch, progress));
  // Seed 004: what a node stores, it announces.
  OB_TRY_VOID(announce(cid));
  return report;
}

namespace {

// A FileReader's blocks from peers: the decoder rebuilds and decrypts each stripe the fetcher
// hands out (blocks checked on arrival) where it lies in the fetcher's window, with no copy.
class NetworkStripes final : public StripeSource {
 public:
  explicit NetworkStripes(std::unique_ptr<exchange::StripeFetcher> fetcher) : fetcher_(std::move(fetcher)) {}
  ~NetworkStripes() override {
    const exchange::FetchReport& report = fetcher_->report();
    std::string dropped;
    for (const std::string& why : report.dropped) dropped += "; " + why;
    spdlog::info("read {} from the network: {} bytes of blocks, {} peer(s) dropped{}", fetcher_->cid().to_string(),
                 report.bytes_received, report.dropped.size(), dropped);
  }
  exchange::StripeFetcher& fetcher() { return *fetcher_; }
  Result<void> fill(std::uint64_t stripe, StripeDecoder& decoder) override {
    OB_TRY(exchange::StripeFetcher::Stripe got, fetcher_->next());
    if (got.index != stripe) return fail(Errc::internal, "stripe ", got.index, " came when ", stripe, " was asked for");
    decoder.use_blocks(got.blocks);
    for (std::size_t i = 0; i < got.blocks.size(); ++i) {
      if (got.present[i]) (void)decoder.accept_checked(i);
    }
    return {};
  }
  Result<void> seek(std::uint64_t first, std::uint64_t end) override { return fetcher_->seek(first, end); }

 private:
  std::unique_ptr<exchange::StripeFetcher> fetcher_;
};

}  // namespace

Result<FileReader> Network::open_reader(const Cid& cid, const crypto::Key* file_key) {
  OB_TRY(std::vector<exchange::PeerClient> peers, provider_clients(cid));
  return open_reader(cid, peers, file_key);
}

Result<FileReader> Network::open_reader(const Cid& cid, const std::vector<exchange::PeerClient>& peers,
                                        const crypto::Key* file_key) {
  if (cid.codec() != protocol::kCodecManifest) {
    return fail(Errc::invalid_argument, cid.to_string(), " is not an Open Bucket file ID");
  }
  OB_TRY(std::unique_ptr<exchange::StripeFetcher> fetcher, exchange::StripeFetcher::open(cid, peers, std::nullopt, options_.fetch));
  auto source = std::make_unique<NetworkStripes>(std::move(fetcher));
  exchange::StripeFetcher& planned = source->fetcher();
  const Bytes manifest = planned.manifest_bytes();
  // The key first: a node that cannot decrypt the file moves none of its blocks.
  OB_TRY(FileReader reader, engine_.open_reader(cid, manifest, std::move(source), file_key));
  std::vector<std::uint32_t> data_slots(planned.manifest().params.k);
  for (std::uint32_t i = 0; i < data_slots.size(); ++i) data_slots[i] = i;
  OB_TRY_VOID(planned.plan(data_slots));
  return reader;
}

}  // namespace ob
