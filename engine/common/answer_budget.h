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
// Every answer budget in the server is --max-response-mb, and the error names it so that an
// operator knows which setting a client ran into.
#ifndef SOCHDB_ENGINE_COMMON_ANSWER_BUDGET_H_
#define SOCHDB_ENGINE_COMMON_ANSWER_BUDGET_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace sochdb {

class AnswerBudget {
 public:
  // `what` names the answer in the error ("BatchGet result"), `hint` says how to ask for less
  // ("request fewer keys"); both must outlive the budget (string literals do).
  AnswerBudget(size_t limit_bytes, std::string_view what, std::string_view hint)
      : limit_(limit_bytes), what_(what), hint_(hint) {}

  // Adds `bytes` to the answer. RESOURCE_EXHAUSTED "<what> exceeds <limit> bytes
  // (--max-response-mb); <hint>" once the total passes the limit (the limit itself fits), and on
  // every later call.
  absl::Status Charge(size_t bytes) {
    if (exceeded_ || bytes > limit_ - used_) {
      exceeded_ = true;
      return absl::ResourceExhaustedError(
          absl::StrFormat("%s exceeds %d bytes (--max-response-mb); %s", what_, limit_, hint_));
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
  const std::string_view what_;
  const std::string_view hint_;
  size_t used_ = 0;  // never more than limit_
  bool exceeded_ = false;
};

}  // namespace sochdb

#endif  // SOCHDB_ENGINE_COMMON_ANSWER_BUDGET_H_
