// AnswerBudget: the bytes one answer may take, counted while the answer is built. A call whose
// answer would pass the budget fails with RESOURCE_EXHAUSTED naming the limit as soon as the
// count passes it, with at most one item's memory spent beyond it. Checking only the finished
// answer is too late: gRPC refuses a message over its size limit after it has been built in
// full, and one over 2 GiB cannot even be serialized (it ended as INTERNAL after gigabytes).
//
// Callers charge what each item adds to the encoded answer (its bytes, and the framing when
// the budget must bound the message). A call whose smallest possible answer is known before the
// work (n results of at least m bytes each) charges that first, so that a request that cannot
// fit is refused before any of the work is done. Not thread-safe: one budget belongs to one call.
//
// The error names the setting the limit came from when the caller gives one (the server's
// budgets all come from --max-response-mb), so that an operator knows which setting a client
// ran into; the engine itself knows no flags.
#ifndef SOCHDB_ENGINE_COMMON_ANSWER_BUDGET_H_
#define SOCHDB_ENGINE_COMMON_ANSWER_BUDGET_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace sochdb {

class AnswerBudget {
 public:
  // `setting` names where `limit_bytes` was set ("--max-response-mb"; empty: nowhere to name),
  // `what` names the answer in the error ("BatchGet result"), `hint` says how to ask for less
  // ("request fewer keys"); all three must outlive the budget (string literals do).
  AnswerBudget(size_t limit_bytes, std::string_view setting, std::string_view what,
               std::string_view hint)
      : limit_(limit_bytes), setting_(setting), what_(what), hint_(hint) {}

  // Adds `bytes` to the answer. RESOURCE_EXHAUSTED "<what> exceeds <limit> bytes (<setting>);
  // <hint>" (without the parenthesis when `setting` is empty) once the total passes the limit
  // (the limit itself fits), and on every later call.
  absl::Status Charge(size_t bytes) {
    if (exceeded_ || bytes > limit_ - used_) {
      exceeded_ = true;
      const std::string named = setting_.empty() ? "" : absl::StrFormat(" (%s)", setting_);
      return absl::ResourceExhaustedError(
          absl::StrFormat("%s exceeds %d bytes%s; %s", what_, limit_, named, hint_));
    }
    used_ += bytes;
    return absl::OkStatus();
  }

  // RESOURCE_EXHAUSTED as Charge when `bytes` more cannot fit, charging nothing either way: for
  // the smallest answer a request can have, checked before the work that builds it.
  absl::Status CheckRoomFor(size_t bytes) {
    return bytes > limit_ - used_ ? Charge(bytes) : absl::OkStatus();
  }

  // The bytes charged so far that fit (a refused charge is not counted).
  size_t used() const { return used_; }
  size_t limit() const { return limit_; }

 private:
  const size_t limit_;
  const std::string_view setting_;
  const std::string_view what_;
  const std::string_view hint_;
  size_t used_ = 0;  // never more than limit_
  bool exceeded_ = false;
};

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_ANSWER_BUDGET_H_
