#include "tracker/slot_lifecycle.h"

#include <array>
#include <limits>

namespace ob::tracker {
namespace {

/// What a transition does to the row's challenge schedule.
enum class Schedule {
  keep,        ///< unchanged
  owe_proof,   ///< challenged at once; the unanswered clock starts now
  proven,      ///< answered: challenged again after the audit interval
  unanswered,  ///< tried again after the retry interval; the unanswered clock starts if it had not
  retry,       ///< tried again after the retry interval (not the consumer's fault)
  none,        ///< no longer challenged
};

struct Rule {
  TransitionRule rule;
  Schedule schedule;
};

using S = SlotState;
using E = SlotEvent;
constexpr std::optional<SlotState> kRemoved = std::nullopt;

// The table. Every (state, event) pair not listed means nothing: the event is ignored.
// Why the less obvious lines are so:
//  - a failed proof, or no answer for too long, also orders the consumer to delete what it has
//    (discard): a bad or unreachable copy must not linger, nor be re-adopted;
//  - a FAILED DELETE turns into a discard: the row goes (the file can settle) and the tracker keeps
//    asking for the deletion;
//  - GIVEN_UP or FAILED on a verifying or stored slot avoids the consumer for the file, as a
//    failed store does.
constexpr std::array kRules = {
    Rule{{S::assigned, E::stored_reported, S::verifying, false, false}, Schedule::owe_proof},
    Rule{{S::assigned, E::held_listed, S::verifying, false, false}, Schedule::owe_proof},
    Rule{{S::assigned, E::failed_reported, kRemoved, true, false}, Schedule::none},
    Rule{{S::assigned, E::store_timed_out, kRemoved, true, false}, Schedule::none},
    Rule{{S::assigned, E::consumer_offline, kRemoved, false, false}, Schedule::none},
    Rule{{S::assigned, E::retired, S::deleting, false, false}, Schedule::none},

    Rule{{S::verifying, E::proof_passed, S::stored, false, false}, Schedule::proven},
    Rule{{S::verifying, E::proof_failed, kRemoved, true, true}, Schedule::none},
    Rule{{S::verifying, E::proof_unanswered, S::verifying, false, false}, Schedule::unanswered},
    Rule{{S::verifying, E::proof_skipped, S::verifying, false, false}, Schedule::retry},
    Rule{{S::verifying, E::unanswered_too_long, kRemoved, true, true}, Schedule::none},
    Rule{{S::verifying, E::failed_reported, kRemoved, true, false}, Schedule::none},
    Rule{{S::verifying, E::consumer_offline, kRemoved, false, false}, Schedule::none},
    Rule{{S::verifying, E::retired, S::deleting, false, false}, Schedule::none},

    Rule{{S::stored, E::proof_passed, S::stored, false, false}, Schedule::proven},
    Rule{{S::stored, E::proof_failed, kRemoved, true, true}, Schedule::none},
    Rule{{S::stored, E::proof_unanswered, S::stored, false, false}, Schedule::unanswered},
    Rule{{S::stored, E::proof_skipped, S::stored, false, false}, Schedule::retry},
    Rule{{S::stored, E::unanswered_too_long, kRemoved, true, true}, Schedule::none},
    Rule{{S::stored, E::failed_reported, kRemoved, true, false}, Schedule::none},
    Rule{{S::stored, E::consumer_offline, kRemoved, false, false}, Schedule::none},
    Rule{{S::stored, E::retired, S::deleting, false, false}, Schedule::none},

    Rule{{S::deleting, E::deleted_reported, kRemoved, false, false}, Schedule::none},
    Rule{{S::deleting, E::failed_reported, kRemoved, false, true}, Schedule::none},
    Rule{{S::deleting, E::consumer_offline, kRemoved, false, false}, Schedule::none},
};

constexpr std::array<TransitionRule, kRules.size()> make_public_table() {
  std::array<TransitionRule, kRules.size()> out{};
  for (std::size_t i = 0; i < kRules.size(); ++i) out[i] = kRules[i].rule;
  return out;
}
constexpr std::array kTable = make_public_table();

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

}  // namespace

const char* state_name(SlotState state) noexcept {
  switch (state) {
    case SlotState::assigned: return "assigned";
    case SlotState::stored: return "stored";
    case SlotState::deleting: return "deleting";
    case SlotState::verifying: return "verifying";
  }
  return "?";
}

const char* event_name(SlotEvent event) noexcept {
  switch (event) {
    case SlotEvent::stored_reported: return "stored_reported";
    case SlotEvent::held_listed: return "held_listed";
    case SlotEvent::deleted_reported: return "deleted_reported";
    case SlotEvent::failed_reported: return "failed_reported";
    case SlotEvent::store_timed_out: return "store_timed_out";
    case SlotEvent::proof_passed: return "proof_passed";
    case SlotEvent::proof_failed: return "proof_failed";
    case SlotEvent::proof_unanswered: return "proof_unanswered";
    case SlotEvent::proof_skipped: return "proof_skipped";
    case SlotEvent::unanswered_too_long: return "unanswered_too_long";
    case SlotEvent::consumer_offline: return "consumer_offline";
    case SlotEvent::retired: return "retired";
  }
  return "?";
}

SlotRow placed(std::string file_id, std::uint32_t slot, std::string consumer, std::int64_t now_ms) {
  return SlotRow{std::move(file_id), slot, std::move(consumer), SlotState::assigned, now_ms, 0, 0};
}

SlotRow adopted(std::string file_id, std::uint32_t slot, std::string consumer, std::int64_t now_ms) {
  return SlotRow{std::move(file_id), slot, std::move(consumer), SlotState::verifying, now_ms, now_ms, now_ms};
}

std::optional<Transition> apply(SlotRow& row, SlotEvent event, std::int64_t now_ms, const ChallengeTimes& times) {
  for (const Rule& r : kRules) {
    if (r.rule.from != row.state || r.rule.event != event) continue;
    Transition transition{!r.rule.to.has_value(), r.rule.avoid, r.rule.discard};
    if (r.rule.to) row.state = *r.rule.to;
    switch (r.schedule) {
      case Schedule::keep: break;
      case Schedule::owe_proof:
        row.next_check_ms = now_ms;
        row.unanswered_since_ms = now_ms;
        break;
      case Schedule::proven:
        row.next_check_ms = times.audit_interval_ms > 0 ? now_ms + times.audit_interval_ms : kNever;
        row.unanswered_since_ms = 0;
        break;
      case Schedule::unanswered:
        row.next_check_ms = now_ms + times.retry_ms;
        if (row.unanswered_since_ms == 0) row.unanswered_since_ms = now_ms;
        break;
      case Schedule::retry: row.next_check_ms = now_ms + times.retry_ms; break;
      case Schedule::none:
        row.next_check_ms = 0;
        row.unanswered_since_ms = 0;
        break;
    }
    return transition;
  }
  return std::nullopt;
}

bool unanswered_too_long(const SlotRow& row, std::int64_t now_ms, std::int64_t bound_ms) noexcept {
  return challenged(row.state) && row.unanswered_since_ms != 0 && now_ms - row.unanswered_since_ms > bound_ms;
}

std::span<const TransitionRule> transition_table() noexcept { return kTable; }

}  // namespace ob::tracker
