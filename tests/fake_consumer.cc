// A lying consumer, for tests/trust_test.sh only (issue 15): COUNT consumers with their own
// identities register with a real tracker at an address where nothing listens, report STORED
// for every STORE order without fetching a byte, DELETED for every DELETE, and hold nothing
// when asked to list their slots. Nothing they say may raise a file's availability.
//
// Usage: fake_consumer TRACKER COUNT DIR
//   TRACKER  PEERID@host:port
//   COUNT    consumers to fake (1..16)
//   DIR      where their identity keys are kept (fake-<i>.key)
// Prints "fake PEERID" for each once it is registered, then "STORED <file> <slot> by PEERID" for
// each lie, on stdout (flushed); runs until SIGTERM or SIGINT.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "net/identity.h"
#include "net/tls.h"
#include "tracker/tracker_client.h"

namespace {

namespace pb = openbucket::tracker::v1;
using namespace ob;

std::atomic<bool> stopping{false};

void on_signal(int) { stopping = true; }

struct Fake {
  std::string peer_id;
  tracker::TrackerClient client;
  bool registered = false;
};

bool register_fake(Fake& fake) {
  pb::RegisterConsumerRequest request;
  request.add_addresses("127.0.0.1:1");  // nothing listens there: no challenge is ever answered
  request.set_capacity_bytes(std::uint64_t{1} << 40);
  request.set_free_bytes(std::uint64_t{1} << 40);
  pb::RegisterConsumerReply reply;
  const grpc::Status status = fake.client.consumer().RegisterConsumer(tracker::call_context().get(), request, &reply);
  if (!status.ok()) {
    std::cerr << "fake " << fake.peer_id << ": " << tracker::call_error("register", status).message << "\n";
    return false;
  }
  pb::ReconcileSlotsReply listed;
  (void)fake.client.consumer().ReconcileSlots(tracker::call_context().get(), {}, &listed);
  if (!fake.registered) std::cout << "fake " << fake.peer_id << std::endl;
  fake.registered = true;
  return true;
}

void beat(Fake& fake) {
  pb::HeartbeatRequest request;
  request.set_capacity_bytes(std::uint64_t{1} << 40);
  request.set_free_bytes(std::uint64_t{1} << 40);
  pb::HeartbeatReply reply;
  const grpc::Status status = fake.client.consumer().Heartbeat(tracker::call_context().get(), request, &reply);
  if (!status.ok()) return;
  if (!reply.registered()) {
    register_fake(fake);
    return;
  }
  pb::ReportSlotsRequest reports;
  for (const pb::SlotOrder& order : reply.orders()) {
    pb::SlotReport* report = reports.add_reports();
    report->set_file_id(order.file_id());
    report->set_slot(order.slot());
    if (order.kind() == pb::SlotOrder::STORE) {
      report->set_state(pb::SlotReport::STORED);
      report->set_bytes(1'000'000);
      report->set_millis(1);
      std::cout << "STORED " << order.file_id() << " " << order.slot() << " by " << fake.peer_id << std::endl;
    } else {
      report->set_state(pb::SlotReport::DELETED);
    }
  }
  if (reports.reports_size() == 0) return;
  pb::ReportSlotsReply done;
  (void)fake.client.consumer().ReportSlots(tracker::call_context().get(), reports, &done);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: fake_consumer PEERID@host:port COUNT DIR\n";
    return 2;
  }
  auto address = tracker::TrackerAddress::parse(argv[1]);
  if (!address) {
    std::cerr << address.error().message << "\n";
    return 2;
  }
  const int count = std::atoi(argv[2]);
  if (count < 1 || count > 16) {
    std::cerr << "COUNT must be 1..16\n";
    return 2;
  }
  ::signal(SIGTERM, on_signal);
  ::signal(SIGINT, on_signal);
  std::vector<Fake> fakes;
  for (int i = 0; i < count; ++i) {
    auto identity = net::Identity::load_or_create(std::filesystem::path(argv[3]) / ("fake-" + std::to_string(i) + ".key"));
    if (!identity) {
      std::cerr << identity.error().message << "\n";
      return 1;
    }
    auto tls = net::make_tls_identity(*identity);
    if (!tls) {
      std::cerr << tls.error().message << "\n";
      return 1;
    }
    fakes.push_back(Fake{identity->peer_id().to_string(), tracker::TrackerClient::connect(*address, *tls), false});
  }
  for (Fake& fake : fakes) register_fake(fake);
  while (!stopping) {
    for (Fake& fake : fakes) {
      if (!fake.registered) {
        register_fake(fake);
      } else {
        beat(fake);
      }
    }
    for (int i = 0; i < 3 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}
