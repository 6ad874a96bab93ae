// The life of one slot assignment on the tracker (docs/tracker.md "A slot assignment"): its
// states, the events that move it, and one transition table. A consumer's word is never enough
// for a slot to count: STORED only moves it to `verifying`, and the tracker's own challenge (a
// random block and its Merkle path against the slot root, exchange::audit_slot) moves it to
// `stored`, the only state that counts toward availability, serves as a STORE source and is
// named `stored` by CheckHolders.
//
//   (placed) ──> assigned ──STORED / listed by its consumer──> verifying ──proof──> stored
//                   │                                              │                  │ proof: stays
//                   │ FAILED, store timeout, consumer offline      │ proof failed, unanswered too
//                   v                                              v long, GIVEN_UP, offline
//               (removed)                                      (removed)
//   (adopted: a slot a consumer lists that nobody holds) ──> verifying
//   assigned | verifying | stored ──retired──> deleting ──DELETED, FAILED, offline──> (removed)
//
// tracker_service.cc changes a row's state only through apply(); the table in
// slot_lifecycle.cc is the whole story, and slot_lifecycle_test.cc drives each transition.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace ob::tracker {

/// Where a slot assignment is in its life. The values are stored in the database (table
/// `slots`, column `state`): never renumber them.
enum class SlotState : int {
  assigned = 0,   ///< ordered to store, not yet reported stored
  stored = 1,     ///< proven by the tracker: counts toward availability
  deleting = 2,   ///< ordered to delete, not yet confirmed
  verifying = 3,  ///< reported stored (or listed by its consumer), not yet proven
};

/// What can happen to a slot assignment.
enum class SlotEvent {
  stored_reported,      ///< its consumer reports STORED
  held_listed,          ///< its consumer lists the slot among those it holds (ReconcileSlots)
  deleted_reported,     ///< its consumer reports DELETED
  failed_reported,      ///< its consumer reports FAILED or GIVEN_UP
  store_timed_out,      ///< assigned, and not reported stored within its deadline
  proof_passed,         ///< a challenge was answered with a block and path matching the slot root
  proof_failed,         ///< a challenge got a wrong proof (corrupt) or "not held" (not_found)
  proof_unanswered,     ///< a challenge got no answer (io: unreachable, timed out)
  proof_skipped,        ///< a challenge could not be run on the tracker's side: counts against nobody
  unanswered_too_long,  ///< no answer to challenges for longer than the unanswered bound
  consumer_offline,     ///< its consumer went offline
  retired,              ///< the file is removed, or its availability lowered below this slot
};

/// A slot's display name ("assigned", ...), for logs.
const char* state_name(SlotState state) noexcept;
/// An event's display name ("stored_reported", ...), for logs and test messages.
const char* event_name(SlotEvent event) noexcept;

/// One slot assignment (table `slots`): at most one row per (file, slot) and per (file, consumer).
/// Times are Unix milliseconds.
struct SlotRow {
  std::string file_id;
  std::uint32_t slot = 0;
  std::string consumer;
  SlotState state = SlotState::assigned;
  std::int64_t assigned_ms = 0;  ///< when placed (or adopted): the store deadline counts from here
  /// When the tracker challenges it next (verifying, stored); oldest first.
  std::int64_t next_check_ms = 0;
  /// Since when its consumer owes an answer to a challenge; 0 = it answered the last one.
  /// Set on entering verifying (a proof is owed from the STORED report on) and on the first
  /// unanswered challenge of a stored slot.
  std::int64_t unanswered_since_ms = 0;
};

/// How challenges are scheduled (docs/tracker.md "Verification and audits").
struct ChallengeTimes {
  /// A proven slot is challenged again this long after its last proof; 0 = never.
  std::int64_t audit_interval_ms = 60'000;
  /// An unanswered or skipped challenge is tried again this long after.
  std::int64_t retry_ms = 5'000;
};

/// What a transition asks of the tracker beyond the row itself.
struct Transition {
  bool removed = false;  ///< the row is gone: the slot is placed again (elsewhere, if anyone can take it)
  bool avoid = false;    ///< record the consumer as avoided for the file
  bool discard = false;  ///< order the consumer to delete what it may hold of the slot
};

/// A new assignment of `slot` of `file_id` to `consumer` at `now_ms`.
SlotRow placed(std::string file_id, std::uint32_t slot, std::string consumer, std::int64_t now_ms);
/// A slot `consumer` already holds, unplaced until now, taken as its assignment: verifying, so
/// it counts only once proven.
SlotRow adopted(std::string file_id, std::uint32_t slot, std::string consumer, std::int64_t now_ms);

/// Applies `event` at `now_ms` to `row`: its state and its challenge schedule change as the
/// transition table says. nullopt: the event means nothing in the row's state (a duplicate
/// or stale report, say) and `row` is unchanged.
std::optional<Transition> apply(SlotRow& row, SlotEvent event, std::int64_t now_ms, const ChallengeTimes& times);

/// Whether a slot in `state` counts toward availability (and may be a STORE source).
constexpr bool counts(SlotState state) noexcept { return state == SlotState::stored; }
/// Whether a slot in `state` is challenged (verified, then audited).
constexpr bool challenged(SlotState state) noexcept {
  return state == SlotState::verifying || state == SlotState::stored;
}
/// Whether `row` has owed an answer for longer than `bound_ms` at `now_ms`: its consumer loses it.
bool unanswered_too_long(const SlotRow& row, std::int64_t now_ms, std::int64_t bound_ms) noexcept;

/// One line of the transition table, for tests and documentation.
struct TransitionRule {
  SlotState from;
  SlotEvent event;
  std::optional<SlotState> to;  ///< nullopt: the row is removed
  bool avoid;
  bool discard;
};
/// The whole table.
std::span<const TransitionRule> transition_table() noexcept;

}  // namespace ob::tracker
