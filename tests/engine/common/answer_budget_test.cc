// AnswerBudget: the limit itself fits, the first byte past it fails with the documented text
// (naming the setting only when the caller gave one), and a budget once exceeded stays exceeded
// (a later small charge cannot slip through).
#include "engine/common/answer_budget.h"

#include <catch2/catch.hpp>
#include <limits>

#include "tests/common/status_testing.h"

namespace sochdb {
namespace {

TEST_CASE("AnswerBudget fits the limit exactly and refuses past it, naming it") {
  AnswerBudget budget(10, "--max-response-mb", "Search answer", "ask for fewer results");
  REQUIRE_OK(budget.Charge(4));
  REQUIRE_OK(budget.Charge(6));
  CHECK(budget.used() == 10);
  testing::RequireError(
      budget.Charge(1), absl::StatusCode::kResourceExhausted,
      "Search answer exceeds 10 bytes (--max-response-mb); ask for fewer results");
  CHECK(budget.used() == 10);
  // Exceeded for good: nothing more is accepted, not even an empty charge.
  CHECK(budget.Charge(0).code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("AnswerBudget without a setting to name says only the limit") {
  AnswerBudget budget(10, "", "BatchGet result", "request fewer keys");
  testing::RequireError(budget.Charge(11), absl::StatusCode::kResourceExhausted,
                        "BatchGet result exceeds 10 bytes; request fewer keys");
}

TEST_CASE("AnswerBudget does not overflow on a huge charge") {
  AnswerBudget budget(100, "", "answer", "less");
  REQUIRE_OK(budget.Charge(50));
  CHECK(budget.Charge(std::numeric_limits<size_t>::max()).code() ==
        absl::StatusCode::kResourceExhausted);
  CHECK(budget.Charge(1).code() == absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace sochdb
