#include "node/producer/storage_request.h"

#include <gtest/gtest.h>

#include "coding/merkle.h"

namespace ob::producer {
namespace {

TEST(StorageRequestTest, OnlyTheTransitionsOfTheTableAreAllowed) {
  StorageRequest request;
  EXPECT_FALSE(request.advance(RequestPhase::started));  // never paid
  EXPECT_EQ(request.phase, RequestPhase::unpaid);
  ASSERT_TRUE(request.advance(RequestPhase::requested));
  EXPECT_FALSE(request.advance(RequestPhase::unpaid));
  ASSERT_TRUE(request.advance(RequestPhase::started));
  ASSERT_TRUE(request.advance(RequestPhase::failed));
  EXPECT_FALSE(request.advance(RequestPhase::started));  // Failed is the end
  EXPECT_FALSE(allowed(RequestPhase::unpaid, RequestPhase::failed));
}

TEST(StorageRequestTest, OnlyARunningRequestCanBeCancelled) {
  StorageRequest request{RequestPhase::requested, "3", "basic", 60, wallet::U256(1), "", ""};
  ASSERT_TRUE(request.advance(RequestPhase::cancelled));
  EXPECT_EQ(to_string(request.phase), "Cancelled");
  EXPECT_EQ(phase_from_string("Cancelled"), RequestPhase::cancelled);
  EXPECT_FALSE(request.advance(RequestPhase::started));  // Cancelled is an end
  EXPECT_FALSE(allowed(RequestPhase::unpaid, RequestPhase::cancelled));  // nothing to cancel
  EXPECT_FALSE(allowed(RequestPhase::failed, RequestPhase::cancelled));
}

TEST(StorageRequestTest, RemovalCancelsWhatRunsAndClosesWhatTimeEnded) {
  using market::RequestState;
  EXPECT_EQ(removal_step(RequestState::New, RequestState::New), RemovalStep::cancel);
  EXPECT_EQ(removal_step(RequestState::Started, RequestState::Started), RemovalStep::cancel);
  // Past its expiry or its end, before anyone called close: the money still waits.
  EXPECT_EQ(removal_step(RequestState::New, RequestState::Cancelled), RemovalStep::close);
  EXPECT_EQ(removal_step(RequestState::Started, RequestState::Finished), RemovalStep::close);
  EXPECT_EQ(removal_step(RequestState::Cancelled, RequestState::Cancelled), RemovalStep::none);
  EXPECT_EQ(removal_step(RequestState::Finished, RequestState::Finished), RemovalStep::none);
  EXPECT_EQ(removal_step(RequestState::Failed, RequestState::Failed), RemovalStep::none);
}

TEST(StorageRequestTest, JsonRoundTripsAndRefusesAnotherShape) {
  StorageRequest request{RequestPhase::requested, "12", "basic", 2592000, wallet::U256(7), "0xabc", ""};
  const nlohmann::json json = request_to_json(request);
  EXPECT_EQ(json["state"], "Requested");
  auto back = request_from_json(json);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, request);
  nlohmann::json bad = json;
  bad["state"] = "Paid";
  EXPECT_FALSE(request_from_json(bad));
  bad = json;
  bad["price"] = "-1";
  EXPECT_FALSE(request_from_json(bad));
}

TEST(StorageRequestTest, DurationsParse) {
  EXPECT_EQ(parse_duration("30d").value_or(0), 30u * 86400);
  EXPECT_EQ(parse_duration("12h").value_or(0), 12u * 3600);
  EXPECT_EQ(parse_duration("90m").value_or(0), 90u * 60);
  EXPECT_EQ(parse_duration("3600s").value_or(0), 3600u);
  EXPECT_EQ(parse_duration("3600").value_or(0), 3600u);
  for (const char* bad : {"", "d", "0d", "-1d", "1w", "1.5d", "99999999999999d"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

TEST(StorageRequestTest, TheAskCoversAllSlotsAndTheEscrowIsTheContracts) {
  Manifest manifest;
  manifest.params.k = 2;
  manifest.params.m = 2;
  manifest.params.block_size = 4096;
  manifest.original_size = 10 * 4096;  // 5 stripes of 2 blocks
  manifest.slot_roots.assign(4, merkle::Hash{});
  manifest.slot_roots[1][0] = 1;
  StorageRequest request{RequestPhase::unpaid, "", "basic", 86400, wallet::U256(3), "", ""};
  const Bytes cid = {1, 2, 3};
  auto ask = make_ask(manifest, cid, request, wallet::Address{});
  ASSERT_TRUE(ask) << ask.error().message;
  EXPECT_EQ(ask->n, 4);
  EXPECT_EQ(ask->k, 2);
  EXPECT_EQ(ask->slot_size, manifest.stripe_count() * 4096);
  EXPECT_EQ(ask->proof_probability, kBasicProofProbability);
  EXPECT_EQ(ask->expiry, 86400u - 1);  // at most duration - 1
  EXPECT_EQ(ask->dataset_root, merkle::dataset_root(manifest.slot_roots).value());
  EXPECT_EQ(ask->escrow().value(), wallet::U256(4 * ask->slot_size * 86400 * 3));
  EXPECT_EQ(ask->collateral_per_byte, wallet::U256(3 * kCollateralSeconds));

  request.tier = "premium";
  request.duration = 100;
  ask = make_ask(manifest, cid, request, wallet::Address{});
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->proof_probability, kPremiumProofProbability);
  EXPECT_EQ(ask->expiry, 99u);

  request.price = wallet::U256(0);
  EXPECT_FALSE(make_ask(manifest, cid, request, wallet::Address{}));
  request.price = wallet::U256(1);
  request.tier = "free";
  EXPECT_FALSE(make_ask(manifest, cid, request, wallet::Address{}));
}

TEST(StorageRequestTest, TheNonceIsTheFilesAlone) {
  const Bytes a = {1, 2, 3};
  const Bytes b = {1, 2, 4};
  EXPECT_EQ(request_nonce(a), request_nonce(a));
  EXPECT_NE(request_nonce(a), request_nonce(b));
}

}  // namespace
}  // namespace ob::producer
