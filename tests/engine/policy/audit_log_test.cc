#include "engine/policy/audit_log.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/common/clock.h"
#include "tests/common/status_testing.h"
#include "tests/engine/policy/policy_test_env.h"

namespace sochdb::policy {
namespace {

using sochdb::testing::MemoryStore;
using sochdb::testing::RequireErrorContaining;
using sochdb::testing::ValueOrFail;

AuditRecord Record(std::string tenant, std::string key) {
  AuditRecord r;
  r.tenant = std::move(tenant);
  r.principal_id = "alice";
  r.principal_role = "editor";
  r.service = "kv";
  r.method = "Get";
  r.operation = "read";
  r.ns = "alpha";
  r.key = std::move(key);
  r.key_count = 1;
  r.policy_id = "p1";
  r.policy_name = "watch reads";
  return r;
}

std::vector<std::string> Keys(const AuditLog::Page& page) {
  std::vector<std::string> keys;
  for (const AuditRecord& r : page.records) keys.push_back(r.key);
  return keys;
}

TEST_CASE("audit records read back newest first, in pages, per tenant, across restart") {
  MemoryStore mem;
  ManualClock clock(1'000'000'000);
  auto log = ValueOrFail(AuditLog::Open(mem.store.get(), &clock, AuditRetention{}));
  for (int i = 0; i < 5; ++i) {
    REQUIRE_OK(log->Append(Record("alpha", absl::StrCat("k", i))));
    clock.AdvanceMicros(1000);
  }
  REQUIRE_OK(log->Append(Record("beta", "b0")));
  REQUIRE(log->records() == 6);

  AuditLog::Page first = ValueOrFail(log->Read("alpha", "", 2));
  REQUIRE(Keys(first) == std::vector<std::string>{"k4", "k3"});
  REQUIRE(first.records[0].principal_id == "alice");
  REQUIRE(first.records[0].policy_name == "watch reads");
  REQUIRE(first.records[0].time_ms == 1'000'000 + 4);
  AuditLog::Page second = ValueOrFail(log->Read("alpha", first.next_page_token, 2));
  REQUIRE(Keys(second) == std::vector<std::string>{"k2", "k1"});
  AuditLog::Page last = ValueOrFail(log->Read("alpha", second.next_page_token, 2));
  REQUIRE(Keys(last) == std::vector<std::string>{"k0"});
  REQUIRE(last.next_page_token.empty());
  REQUIRE(Keys(ValueOrFail(log->Read("beta", "", 0))) == std::vector<std::string>{"b0"});
  REQUIRE(ValueOrFail(log->Read("gamma", "", 0)).records.empty());

  RequireErrorContaining(log->Read("alpha", "garbage", 1).status(),
                         absl::StatusCode::kInvalidArgument, "page_token");
  RequireErrorContaining(log->Read("alpha", "", kMaxAuditPage + 1).status(),
                         absl::StatusCode::kInvalidArgument, "limit is 1001; the maximum is 1000");

  log.reset();
  mem.Reopen();
  log = ValueOrFail(AuditLog::Open(mem.store.get(), &clock, AuditRetention{}));
  REQUIRE(log->records() == 6);
  REQUIRE(Keys(ValueOrFail(log->Read("alpha", "", 0))).size() == 5);
}

TEST_CASE("audit records past their age or their tenant's count are trimmed, oldest first") {
  MemoryStore mem;
  ManualClock clock(1'000'000'000);
  AuditRetention retention;
  retention.max_age = absl::Seconds(10);
  retention.max_records_per_tenant = 3;
  auto log = ValueOrFail(AuditLog::Open(mem.store.get(), &clock, retention));
  for (int i = 0; i < 5; ++i) {
    REQUIRE_OK(log->Append(Record("alpha", absl::StrCat("k", i))));
    clock.AdvanceMicros(1'000'000);
  }
  REQUIRE(ValueOrFail(log->Trim()) == 2);  // over the count: k0 and k1 go
  REQUIRE(Keys(ValueOrFail(log->Read("alpha", "", 0))) ==
          std::vector<std::string>{"k4", "k3", "k2"});
  clock.AdvanceMicros(7'500'000);  // k2 (at +2 s) is now 10.5 s old
  REQUIRE(ValueOrFail(log->Trim()) == 1);
  REQUIRE(Keys(ValueOrFail(log->Read("alpha", "", 0))) == std::vector<std::string>{"k4", "k3"});
  REQUIRE(ValueOrFail(log->Trim()) == 0);
  REQUIRE(log->records() == 2);
}

}  // namespace
}  // namespace sochdb::policy
