#include "api/producer_routes.h"

#include <gtest/gtest.h>

#include <fstream>

#include "node/engine.h"
#include "node/producer/fake_tracker_test_util.h"
#include "node/producer/producer.h"
#include "store/file_io.h"
#include "testing/test_util.h"

namespace ob::api {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

class ProducerRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NodeConfig config;
    config.sync = false;
    config.coding = CodingParams{2, 1, 16384};
    config.default_availability = 2;
    config.producer_directory = (root_.path() / "produce").string();
    ASSERT_TRUE(Home::init(root_.path() / "home", false, config));
    home_ = std::make_unique<Home>(Home::open(root_.path() / "home").value());
    engine_ = std::move(Engine::open(*home_).value());
    producer::ProducerOptions options;
    options.poll_interval = 50ms;
    options.remove_timeout = 500ms;
    producer_ = std::move(producer::Producer::open(*home_, *engine_, nullptr, tracker_.client(), options).value());
    routes_ = producer_routes(*producer_);
  }
  void TearDown() override {
    producer_.reset();
    engine_.reset();
  }
  JsonReply call(const std::string& method, const std::string& path, const json& body = nullptr) {
    for (const JsonRoute& r : routes_) {
      if (r.method == method && r.path == path) return r.handler(body);
    }
    ADD_FAILURE() << "no route " << method << " " << path;
    return {};
  }
  std::string config_text() {
    return std::string(as_chars(fileio::read_file(root_.path() / "home" / "config.toml", 1 << 20).value()));
  }
  std::string upload_one(const std::string& name) {
    const fs::path file = outside_.path() / name;
    std::ofstream(file) << name;
    const JsonReply reply = call("POST", "/v1/producer/files/upload", {{"path", file.string()}});
    EXPECT_EQ(reply.status, 200) << reply.body.dump();
    return reply.body.value("id", "");
  }

  ob::testing::TempDir root_{"ob-routes"};
  ob::testing::TempDir outside_{"ob-outside"};
  ob::testing::FakeTracker tracker_;
  std::unique_ptr<Home> home_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<producer::Producer> producer_;
  std::vector<JsonRoute> routes_;
};

const json kMsg(const std::string& text) { return json{{"msg", text}}; }

TEST_F(ProducerRoutesTest, StartAndStopAnswerTheSeedsMessages) {
  EXPECT_EQ(call("POST", "/v1/producer/start").body, kMsg("Producer started"));
  EXPECT_EQ(call("POST", "/v1/producer/start", json::object()).body, kMsg("Producer had already started"));
  EXPECT_EQ(call("POST", "/v1/producer/stop").body, kMsg("Producer stopped"));
  const JsonReply again = call("POST", "/v1/producer/stop");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, kMsg("Producer had already stopped"));
}

TEST_F(ProducerRoutesTest, ConfigsRefusesBadFieldsAndChangesNothing) {
  const std::string before = config_text();
  const fs::path a_file = outside_.path() / "file";
  std::ofstream(a_file) << "x";
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"directory", 5}}, "Invalid directory"},
      {{{"directory", ""}}, "Invalid directory"},
      {{{"directory", "relative/dir"}}, "Invalid directory"},
      {{{"directory", a_file.string()}}, "Invalid directory"},
      {{{"defaultAvailability", "two"}}, "Invalid defaultAvailability"},
      {{{"defaultAvailability", 0}}, "Invalid defaultAvailability"},
      {{{"defaultAvailability", 1.5}}, "Invalid defaultAvailability"},
      {{{"defaultAvailability", -3}}, "Invalid defaultAvailability"},
      {{{"startOnStartup", "yes"}}, "Invalid startOnStartup"},
      {{{"startOnStartup", 1}}, "Invalid startOnStartup"},
      // One bad field refuses the whole request, good fields included.
      {{{"defaultAvailability", 4}, {"startOnStartup", "no"}}, "Invalid startOnStartup"},
  };
  for (const auto& [body, msg] : cases) {
    const JsonReply reply = call("POST", "/v1/producer/configs", body);
    EXPECT_EQ(reply.status, 400) << body.dump();
    EXPECT_EQ(reply.body, kMsg(msg)) << body.dump();
  }
  EXPECT_EQ(call("POST", "/v1/producer/configs", json::array()).status, 400);
  EXPECT_EQ(config_text(), before);

  const JsonReply ok = call("POST", "/v1/producer/configs", {{"defaultAvailability", 2.0}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, kMsg("Producer configs applied"));
}

TEST_F(ProducerRoutesTest, UploadValidatesThenAnswersWithTheFileId) {
  EXPECT_EQ(call("POST", "/v1/producer/files/upload", json::object()).body, kMsg("Invalid path"));
  EXPECT_EQ(call("POST", "/v1/producer/files/upload", {{"path", 3}}).body, kMsg("Invalid path"));
  const fs::path file = outside_.path() / "u.txt";
  std::ofstream(file) << "upload me";
  for (const auto& [key, value, msg] : {std::tuple{"availability", json("3"), "Invalid availability"},
                                       std::tuple{"availability", json(0), "Invalid availability"},
                                       std::tuple{"k", json(true), "Invalid k"}, std::tuple{"m", json(-1), "Invalid m"},
                                       std::tuple{"tier", json(2), "Invalid tier"}}) {
    const JsonReply reply = call("POST", "/v1/producer/files/upload", {{"path", file.string()}, {key, value}});
    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.body, kMsg(msg));
  }
  EXPECT_EQ(call("POST", "/v1/producer/files/upload", {{"path", file.string()}, {"tier", "gold"}}).status, 400);
  EXPECT_EQ(tracker_.mutating_calls(), 0);

  const JsonReply ok = call("POST", "/v1/producer/files/upload", {{"path", file.string()}, {"availability", 2}});
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["msg"], "File " + file.string() + " is uploading");
  const std::string id = ok.body["id"];
  EXPECT_TRUE(tracker_.file(id));

  const JsonReply listed = call("GET", "/v1/producer/files");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body.size(), 1u);
  EXPECT_EQ(listed.body[0]["id"], id);
  EXPECT_EQ(listed.body[0]["path"], "u.txt");
  EXPECT_EQ(listed.body[0]["size"], "9 B");
  EXPECT_EQ(listed.body[0]["status"], "UPLOADING");
  EXPECT_EQ(listed.body[0]["availability"], 2);
  EXPECT_EQ(listed.body[0]["actualAvailability"], 0);
  EXPECT_EQ(listed.body[0]["hash"].get<std::string>().size(), 32u);
  // What `producer upload` follows: availability 2 alone is k = 1, m = 1, so 2 proven slots
  // of 9 bytes each make the file UPLOADED; none is proven yet.
  EXPECT_EQ(listed.body[0]["slotsStored"], 0);
  EXPECT_EQ(listed.body[0]["slotsWanted"], 2);
  EXPECT_EQ(listed.body[0]["bytesPlaced"], 0);
  EXPECT_EQ(listed.body[0]["bytesWanted"], 18);
  const JsonReply local = call("GET", "/v1/producer/files/local");
  ASSERT_EQ(local.body.size(), 1u);
  EXPECT_EQ(local.body[0]["status"], "UPLOADING");
}

TEST_F(ProducerRoutesTest, DownloadRemoveAndEditAnswerUnknownFilesWithTheSeedsMessage) {
  const std::string unknown = Cid::raw_sha256(as_bytes("unknown")).to_string();
  const std::string dest = outside_.path().string();
  JsonReply reply = call("POST", "/v1/producer/files/download", {{"fileId", unknown}, {"destination", dest}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body, kMsg("File `" + unknown + "` not exists"));
  reply = call("POST", "/v1/producer/files/download", {{"path", "a/b.txt"}, {"destination", dest}});
  EXPECT_EQ(reply.body, kMsg("File `a/b.txt` not exists"));
  reply = call("POST", "/v1/producer/files/download", {{"fileId", "not a cid"}, {"destination", dest}});
  EXPECT_EQ(reply.body, kMsg("File `not a cid` not exists"));
  EXPECT_EQ(call("POST", "/v1/producer/files/download", {{"fileId", unknown}}).body, kMsg("Invalid destination"));
  EXPECT_EQ(call("POST", "/v1/producer/files/download", {{"destination", dest}}).status, 400);

  reply = call("POST", "/v1/producer/files/remove", {{"fileId", unknown}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body, kMsg("File `" + unknown + "` not exists"));
  EXPECT_EQ(call("POST", "/v1/producer/files/remove", {{"remotePath", "x"}}).body, kMsg("File `x` not exists"));
  EXPECT_EQ(call("POST", "/v1/producer/files/remove", {{"fileId", 7}}).status, 400);
  // A paid file's cancel fields are checked like the upload's, before anything is asked.
  EXPECT_EQ(call("POST", "/v1/producer/files/remove", {{"fileId", unknown}, {"account", 3}}).body,
            kMsg("Invalid account"));
  EXPECT_EQ(call("POST", "/v1/producer/files/remove", {{"fileId", unknown}, {"passphrase", true}}).body,
            kMsg("Invalid passphrase"));
  // Withdraw: bad fields, then an account the wallet does not have, in one line each.
  EXPECT_EQ(call("POST", "/v1/producer/withdraw", {{"passphrase", 1}}).body, kMsg("Invalid passphrase"));
  reply = call("POST", "/v1/producer/withdraw", {{"account", "nobody"}, {"passphrase", "x"}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body["msg"].get<std::string>().find("nobody"), std::string::npos) << reply.body.dump();

  reply = call("POST", "/v1/producer/edit", {{"fileId", unknown}, {"availability", 1}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body, kMsg("File `" + unknown + "` not exists"));
  EXPECT_EQ(call("POST", "/v1/producer/edit", {{"availability", 1}}).body, kMsg("Invalid fileId"));
  EXPECT_EQ(call("POST", "/v1/producer/edit", {{"fileId", unknown}, {"availability", "two"}}).body,
            kMsg("Invalid availability"));
  EXPECT_EQ(call("POST", "/v1/producer/edit", {{"fileId", unknown}, {"path", false}}).body, kMsg("Invalid path"));
  EXPECT_EQ(tracker_.mutating_calls(), 0);
}

TEST_F(ProducerRoutesTest, KnownFilesAreDownloadedEditedAndRemoved) {
  const std::string id = upload_one("known.txt");
  ASSERT_FALSE(id.empty());
  ob::testing::TempDir dest;
  // The ID wins over the path.
  JsonReply reply = call("POST", "/v1/producer/files/download",
                         {{"fileId", id}, {"path", "wrong"}, {"destination", dest.path().string()}, {"wait", true}});
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, kMsg("Downloading file `" + id + "` to `" + dest.path().string() + "`"));
  EXPECT_TRUE(fs::exists(dest.path() / "known.txt"));
  // A finished download is no longer listed as running.
  EXPECT_EQ(call("GET", "/v1/producer/files/downloads").body, json::array());

  reply = call("POST", "/v1/producer/edit", {{"fileId", id}, {"path", "renamed.txt"}, {"availability", 2}});
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, kMsg("File's metadata has changed"));
  EXPECT_EQ(tracker_.file(id)->path(), "renamed.txt");
  reply = call("POST", "/v1/producer/edit", {{"fileId", id}, {"availability", 3}});  // m = 1
  EXPECT_EQ(reply.status, 400);

  reply = call("POST", "/v1/producer/files/remove", {{"fileId", id}, {"remotePath", "ignored"}});
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, kMsg("File `" + id + "` removed"));
  EXPECT_FALSE(tracker_.file(id));
}

}  // namespace
}  // namespace ob::api
