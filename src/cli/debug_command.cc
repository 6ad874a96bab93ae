// `open-bucket debug`: hidden aids for the contract tests and the gas benchmark (contracts/test,
// bench/gas.mjs), not for users; not in --help.
//   debug prove CID --slot I --segment S   segment S of slot I of a stored file and its Merkle
//                                          path to the file's dataset root, as JSON: what
//                                          StorageMarket.fillSlot and submitProof take
//   debug market-artifact                  the StorageMarket contract this binary carries, as JSON
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "coding/merkle.h"
#include "market/market_artifact.h"
#include "market/storage_proof.h"
#include "node/daemon.h"
#include "node/engine.h"
#include "node/home.h"

namespace ob::cli {
namespace {

std::string hex0x(ByteView bytes) { return "0x" + to_hex(bytes); }

struct ProveFlags {
  std::string cid;
  std::uint32_t slot = 0;
  std::uint64_t segment = 0;
};

int cmd_prove(const std::optional<std::string>& home_flag, const ProveFlags& flags) {
  auto cid = Cid::parse(flags.cid);
  if (!cid) return report(Error{Errc::invalid_argument, "invalid CID '" + flags.cid + "': " + cid.error().message});
  auto dir = resolve_home(home_flag);
  if (!dir) return report(dir.error());
  auto home = Home::open(*dir);
  if (!home) return report(home.error());
  auto engine = Engine::open(*home);
  if (!engine) {
    if (auto daemon = running_daemon(*dir)) {
      return report(Error{Errc::io, "`debug prove` reads the store itself, which the daemon (pid " +
                                        std::to_string(daemon->pid) + ") holds: stop the daemon first"});
    }
    return report(engine.error());
  }
  auto manifest = (*engine)->manifest(*cid);
  if (!manifest) return report(manifest.error());
  if (flags.slot >= manifest->params.n()) {
    return report(Error{Errc::invalid_argument, "slot " + std::to_string(flags.slot) + " is not one of the file's " +
                                                    std::to_string(manifest->params.n()) + " slots"});
  }
  auto slot = (*engine)->slots().open_slot(*cid, flags.slot);
  if (!slot) return report(slot.error());
  auto proof = market::prove_segment(*manifest, *slot, flags.segment);
  if (!proof) return report(proof.error());
  auto dataset_root = merkle::dataset_root(manifest->slot_roots);
  if (!dataset_root) return report(dataset_root.error());

  const market::DatasetShape shape = market::DatasetShape::of(*manifest);
  nlohmann::json path = nlohmann::json::array();
  for (const merkle::Hash& sibling : proof->path()) path.push_back(hex0x(sibling));
  const nlohmann::json out = {
      {"file", cid->to_string()},
      {"manifestCid", hex0x(cid->to_bytes())},
      {"datasetRoot", hex0x(*dataset_root)},
      {"n", manifest->params.n()},
      {"k", manifest->params.k},
      {"blockSize", manifest->params.block_size},
      {"slotSize", shape.blocks_per_slot * manifest->params.block_size},
      {"segmentsPerSlot", shape.segments_per_slot()},
      {"slot", proof->slot},
      {"slotRoot", hex0x(manifest->slot_roots[proof->slot])},
      {"segment", proof->segment},
      {"data", hex0x(proof->data)},
      {"path", path},
  };
  std::cout << out.dump() << "\n";
  return 0;
}

int cmd_market_artifact() {
  auto abi = nlohmann::json::parse(market::kStorageMarketAbi, nullptr, false);
  if (abi.is_discarded()) return report(Error{Errc::corrupt, "the embedded StorageMarket ABI is not JSON"});
  const nlohmann::json out = {
      {"contractName", "StorageMarket"},
      {"solc", market::kStorageMarketSolc},
      {"bytecode", market::kStorageMarketBytecode},
      {"abi", abi},
  };
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

CommandRunner add_debug_commands(CLI::App& app, const std::optional<std::string>& home) {
  auto flags = std::make_shared<ProveFlags>();
  auto* debug = app.add_subcommand("debug", "Aids for tests and benchmarks");
  debug->group("");  // hidden from --help
  debug->require_subcommand(1);
  auto* prove = debug->add_subcommand(
      "prove", "Print a segment of a stored slot and its Merkle path to the dataset root as JSON (stop the daemon first)");
  prove->add_option("CID", flags->cid, "File CID")->required();
  prove->add_option("--slot", flags->slot, "Slot index")->required();
  prove->add_option("--segment", flags->segment, "Segment index in the slot (1 KiB segments)")->required();
  auto* artifact = debug->add_subcommand("market-artifact", "Print the StorageMarket bytecode and ABI this binary carries");
  return [prove, artifact, flags, &home]() -> std::optional<int> {
    if (prove->parsed()) return cmd_prove(home, *flags);
    if (artifact->parsed()) return cmd_market_artifact();
    return std::nullopt;
  };
}

}  // namespace ob::cli
