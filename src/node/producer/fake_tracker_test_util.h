// A stand-in tracker for the producer's unit tests: the Market and Producer services of
// proto/tracker.proto over real gRPC and TLS on 127.0.0.1, keeping files in memory and letting
// the test decide what the real tracker would (statuses, holders, removal confirmations).
// Not part of the library.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "coding/manifest.h"
#include "net/identity.h"
#include "net/tls.h"
#include "testing/test_util.h"
#include "tracker/tracker_client.h"

namespace ob::testing {

namespace tpb = openbucket::tracker::v1;

class FakeTracker final : public tpb::Market::Service, public tpb::Producer::Service {
 public:
  FakeTracker() {
    auto identity = net::Identity::from_seed(seeded_bytes(32, 4242));
    auto tls = net::make_tls_identity(*identity);
    peer_ = identity->peer_id();
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", net::server_credentials(*tls), &port);
    builder.RegisterService(static_cast<tpb::Market::Service*>(this));
    builder.RegisterService(static_cast<tpb::Producer::Service*>(this));
    server_ = builder.BuildAndStart();
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  ~FakeTracker() override { server_->Shutdown(); }

  /// A client of this tracker presenting a fixed producer identity.
  tracker::TrackerClient client() const {
    static const auto identity = net::Identity::from_seed(seeded_bytes(32, 777));
    static const auto tls = net::make_tls_identity(*identity);
    auto address = tracker::TrackerAddress::parse(peer_.to_string() + "@" + address_);
    return tracker::TrackerClient::connect(*address, *tls);
  }

  // --- what the test controls and inspects ---
  std::vector<tpb::FileInfo> files() const {
    std::lock_guard lock(mutex_);
    std::vector<tpb::FileInfo> out;
    for (const auto& [id, f] : files_) out.push_back(f);
    return out;
  }
  std::optional<tpb::FileInfo> file(const std::string& id) const {
    std::lock_guard lock(mutex_);
    const auto it = files_.find(id);
    if (it == files_.end()) return std::nullopt;
    return it->second;
  }
  void add(const tpb::FileInfo& info) {
    std::lock_guard lock(mutex_);
    files_[info.file_id()] = info;
  }
  void set_status(const std::string& id, tpb::FileStatus status) {
    std::lock_guard lock(mutex_);
    files_[id].set_status(status);
  }
  void set_holders(const std::string& id, std::vector<tpb::SlotHolder> holders) {
    std::lock_guard lock(mutex_);
    holders_[id] = std::move(holders);
  }
  /// Whether RemoveFile forgets the file at once (every consumer confirmed) or never.
  void set_confirm_removal(bool confirm) {
    std::lock_guard lock(mutex_);
    confirm_removal_ = confirm;
  }
  int register_calls() const {
    std::lock_guard lock(mutex_);
    return register_calls_;
  }
  int mutating_calls() const {
    std::lock_guard lock(mutex_);
    return register_calls_ + remove_calls_ + edit_calls_;
  }
  std::vector<std::string> last_sources() const {
    std::lock_guard lock(mutex_);
    return last_sources_;
  }

  // --- Market ---
  grpc::Status RegisterFile(grpc::ServerContext*, const tpb::RegisterFileRequest* request,
                            tpb::RegisterFileReply* reply) override {
    const ByteView bytes(reinterpret_cast<const std::uint8_t*>(request->manifest().data()), request->manifest().size());
    auto manifest = Manifest::decode(bytes);
    if (!manifest) return {grpc::StatusCode::INVALID_ARGUMENT, manifest.error().message};
    if (request->availability() < 1 || request->availability() > manifest->params.m + 1) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "availability out of range"};
    }
    const std::string id = Manifest::cid_of(bytes).to_string();
    std::lock_guard lock(mutex_);
    ++register_calls_;
    last_sources_.assign(request->source_addresses().begin(), request->source_addresses().end());
    tpb::FileInfo& f = files_[id];
    if (f.file_id().empty()) f.set_status(tpb::STATUS_UPLOADING);
    f.set_file_id(id);
    f.set_path(request->path());
    f.set_size(request->size());
    f.set_hash(request->hash());
    f.set_tier(request->tier());
    f.set_k(manifest->params.k);
    f.set_m(manifest->params.m);
    f.set_availability(request->availability());
    reply->set_file_id(id);
    *reply->mutable_file() = f;
    return grpc::Status::OK;
  }
  grpc::Status CheckHolders(grpc::ServerContext*, const tpb::CheckHoldersRequest* request,
                            tpb::CheckHoldersReply* reply) override {
    std::lock_guard lock(mutex_);
    if (!files_.contains(request->file_id())) return {grpc::StatusCode::NOT_FOUND, "no such file"};
    for (const auto& h : holders_[request->file_id()]) *reply->add_holders() = h;
    return grpc::Status::OK;
  }

  // --- Producer ---
  grpc::Status ListFiles(grpc::ServerContext*, const tpb::ListFilesRequest* request,
                         tpb::ListFilesReply* reply) override {
    std::lock_guard lock(mutex_);
    if (!request->file_id().empty()) {
      const auto it = files_.find(request->file_id());
      if (it == files_.end()) return {grpc::StatusCode::NOT_FOUND, "no such file"};
      *reply->add_files() = it->second;
      return grpc::Status::OK;
    }
    for (const auto& [id, f] : files_) *reply->add_files() = f;
    return grpc::Status::OK;
  }
  grpc::Status RemoveFile(grpc::ServerContext*, const tpb::RemoveFileRequest* request,
                          tpb::RemoveFileReply* reply) override {
    std::lock_guard lock(mutex_);
    const auto it = files_.find(request->file_id());
    if (it == files_.end()) return {grpc::StatusCode::NOT_FOUND, "no such file"};
    ++remove_calls_;
    it->second.set_status(tpb::STATUS_REMOVING);
    *reply->mutable_file() = it->second;
    if (confirm_removal_) files_.erase(it);
    return grpc::Status::OK;
  }
  grpc::Status EditFile(grpc::ServerContext*, const tpb::EditFileRequest* request, tpb::EditFileReply* reply) override {
    std::lock_guard lock(mutex_);
    const auto it = files_.find(request->file_id());
    if (it == files_.end()) return {grpc::StatusCode::NOT_FOUND, "no such file"};
    ++edit_calls_;
    if (request->has_path()) it->second.set_path(request->path());
    if (request->has_availability()) it->second.set_availability(request->availability());
    *reply->mutable_file() = it->second;
    return grpc::Status::OK;
  }

 private:
  net::PeerId peer_ = net::PeerId::from_public_key({});
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
  mutable std::mutex mutex_;
  std::map<std::string, tpb::FileInfo> files_;
  std::map<std::string, std::vector<tpb::SlotHolder>> holders_;
  bool confirm_removal_ = true;
  int register_calls_ = 0;
  int remove_calls_ = 0;
  int edit_calls_ = 0;
  std::vector<std::string> last_sources_;
};

}  // namespace ob::testing
