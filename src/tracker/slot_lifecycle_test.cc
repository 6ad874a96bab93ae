// The slot lifecycle's transition table, one transition at a time, and the challenge schedule
// each transition sets.
#include "tracker/slot_lifecycle.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace ob::tracker {
namespace {

constexpr std::int64_t kNow = 1'000'000;
constexpr ChallengeTimes kTimes{60'000, 5'000};

const std::vector<SlotState> kStates = {SlotState::assigned, SlotState::verifying, SlotState::stored,
                                        SlotState::deleting};
const std::vector<SlotEvent> kEvents = {
    SlotEvent::stored_reported,  SlotEvent::held_listed,      SlotEvent::deleted_reported,
    SlotEvent::failed_reported,  SlotEvent::store_timed_out,  SlotEvent::proof_passed,
    SlotEvent::proof_failed,     SlotEvent::proof_unanswered, SlotEvent::proof_skipped,
    SlotEvent::unanswered_too_long, SlotEvent::consumer_offline, SlotEvent::retired};

SlotRow row_in(SlotState state) {
  SlotRow row = placed("bfile", 2, "consumer", kNow - 10'000);
  row.state = state;
  row.next_check_ms = 123;
  row.unanswered_since_ms = state == SlotState::verifying ? kNow - 1000 : 0;
  return row;
}

/// `t` applied, with these effects.
void expect_effects(const std::optional<Transition>& t, bool removed, bool avoid, bool discard) {
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->removed, removed);
  EXPECT_EQ(t->avoid, avoid);
  EXPECT_EQ(t->discard, discard);
}

TEST(SlotLifecycle, EveryRuleOfTheTableDoesWhatItSays) {
  ASSERT_FALSE(transition_table().empty());
  for (const TransitionRule& rule : transition_table()) {
    SCOPED_TRACE(std::string(state_name(rule.from)) + " + " + event_name(rule.event));
    SlotRow row = row_in(rule.from);
    expect_effects(apply(row, rule.event, kNow, kTimes), !rule.to.has_value(), rule.avoid, rule.discard);
    if (rule.to) {
      EXPECT_EQ(row.state, *rule.to);
    }
    // The row keeps what it is about.
    EXPECT_EQ(row.file_id, "bfile");
    EXPECT_EQ(row.slot, 2u);
    EXPECT_EQ(row.consumer, "consumer");
  }
}

TEST(SlotLifecycle, EventsOutsideTheTableChangeNothing) {
  int ignored = 0;
  for (const SlotState state : kStates) {
    for (const SlotEvent event : kEvents) {
      bool listed = false;
      for (const TransitionRule& rule : transition_table()) listed |= rule.from == state && rule.event == event;
      if (listed) continue;
      SCOPED_TRACE(std::string(state_name(state)) + " + " + event_name(event));
      SlotRow row = row_in(state);
      const SlotRow before = row;
      EXPECT_FALSE(apply(row, event, kNow, kTimes).has_value());
      EXPECT_EQ(row.state, before.state);
      EXPECT_EQ(row.next_check_ms, before.next_check_ms);
      EXPECT_EQ(row.unanswered_since_ms, before.unanswered_since_ms);
      ++ignored;
    }
  }
  EXPECT_GT(ignored, 0);
}

TEST(SlotLifecycle, AStoredReportIsNotEnoughOnlyAProofCounts) {
  SlotRow row = placed("bfile", 0, "c", kNow);
  EXPECT_EQ(row.state, SlotState::assigned);
  EXPECT_FALSE(counts(row.state));
  ASSERT_TRUE(apply(row, SlotEvent::stored_reported, kNow, kTimes));
  EXPECT_EQ(row.state, SlotState::verifying);
  EXPECT_FALSE(counts(row.state));
  EXPECT_TRUE(challenged(row.state));
  EXPECT_EQ(row.next_check_ms, kNow);        // challenged at once
  EXPECT_EQ(row.unanswered_since_ms, kNow);  // owes a proof from now on
  // A second STORED changes nothing.
  EXPECT_FALSE(apply(row, SlotEvent::stored_reported, kNow + 5, kTimes));
  ASSERT_TRUE(apply(row, SlotEvent::proof_passed, kNow + 100, kTimes));
  EXPECT_EQ(row.state, SlotState::stored);
  EXPECT_TRUE(counts(row.state));
  EXPECT_EQ(row.next_check_ms, kNow + 100 + kTimes.audit_interval_ms);
  EXPECT_EQ(row.unanswered_since_ms, 0);
}

TEST(SlotLifecycle, AnUnansweredSlotIsRetriedThenLostPastTheBound) {
  SlotRow row = row_in(SlotState::stored);
  const std::int64_t bound = 15'000;
  ASSERT_TRUE(apply(row, SlotEvent::proof_unanswered, kNow, kTimes));
  EXPECT_EQ(row.state, SlotState::stored);  // still counts, for now
  EXPECT_EQ(row.unanswered_since_ms, kNow);
  EXPECT_EQ(row.next_check_ms, kNow + kTimes.retry_ms);
  ASSERT_TRUE(apply(row, SlotEvent::proof_unanswered, kNow + 5000, kTimes));
  EXPECT_EQ(row.unanswered_since_ms, kNow);  // the clock runs from the first one
  EXPECT_FALSE(unanswered_too_long(row, kNow + bound, bound));
  EXPECT_TRUE(unanswered_too_long(row, kNow + bound + 1, bound));
  expect_effects(apply(row, SlotEvent::unanswered_too_long, kNow + bound + 1, kTimes), true, true, true);
  // An answer in time stops the clock.
  SlotRow back = row_in(SlotState::stored);
  ASSERT_TRUE(apply(back, SlotEvent::proof_unanswered, kNow, kTimes));
  ASSERT_TRUE(apply(back, SlotEvent::proof_passed, kNow + 1000, kTimes));
  EXPECT_EQ(back.unanswered_since_ms, 0);
  EXPECT_FALSE(unanswered_too_long(back, kNow + 10 * bound, bound));
}

TEST(SlotLifecycle, AVerifyingSlotOwesItsProofFromTheReport) {
  // Nothing needs to have been asked: a slot reported stored and never proven is lost too.
  SlotRow row = placed("bfile", 0, "c", kNow);
  ASSERT_TRUE(apply(row, SlotEvent::stored_reported, kNow, kTimes));
  EXPECT_TRUE(unanswered_too_long(row, kNow + 20'000, 15'000));
  // A skipped challenge (the tracker's own trouble) neither starts nor stops the clock.
  SlotRow stored = row_in(SlotState::stored);
  ASSERT_TRUE(apply(stored, SlotEvent::proof_skipped, kNow, kTimes));
  EXPECT_EQ(stored.unanswered_since_ms, 0);
  EXPECT_EQ(stored.next_check_ms, kNow + kTimes.retry_ms);
}

TEST(SlotLifecycle, AuditsOffMeansAProvenSlotIsNotChallengedAgain) {
  SlotRow row = row_in(SlotState::verifying);
  ASSERT_TRUE(apply(row, SlotEvent::proof_passed, kNow, ChallengeTimes{0, 5000}));
  EXPECT_EQ(row.state, SlotState::stored);
  EXPECT_EQ(row.next_check_ms, std::numeric_limits<std::int64_t>::max());
}

TEST(SlotLifecycle, AdoptedSlotsAreVerifiedBeforeTheyCount) {
  const SlotRow row = adopted("bfile", 1, "c", kNow);
  EXPECT_EQ(row.state, SlotState::verifying);
  EXPECT_EQ(row.next_check_ms, kNow);
  EXPECT_EQ(row.unanswered_since_ms, kNow);
  EXPECT_EQ(row.assigned_ms, kNow);
}

TEST(SlotLifecycle, BadProofsAndFailedDeletesLeaveADeleteOrderBehind) {
  for (const SlotState state : {SlotState::verifying, SlotState::stored}) {
    SCOPED_TRACE(state_name(state));
    SlotRow row = row_in(state);
    expect_effects(apply(row, SlotEvent::proof_failed, kNow, kTimes), true, true, true);
  }
  SlotRow deleting = row_in(SlotState::deleting);
  expect_effects(apply(deleting, SlotEvent::failed_reported, kNow, kTimes), true, false, true);
  // A DELETED report about a slot the consumer is meant to hold is stale: ignored.
  SlotRow assigned = row_in(SlotState::assigned);
  EXPECT_FALSE(apply(assigned, SlotEvent::deleted_reported, kNow, kTimes));
}

}  // namespace
}  // namespace ob::tracker
