// NamespaceGate and the registry's use of it: Enter admits operations until a namespace is
// closed, a delete waits for the operations in flight on its namespace (and only those that
// entered before it), gives up at its bound with the namespace open again and nothing deleted,
// and operations on other namespaces go on throughout.
#include <catch2/catch.hpp>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/namespace/namespace_gate.h"
#include "tests/engine/namespace/namespace_test_util.h"

namespace sochdb::namespaces {
namespace {

using namespace testing;  // NOLINT: this test's helpers

TEST_CASE("a closed namespace refuses new operations; others go on", "[namespace]") {
  NamespaceGate gate;
  std::optional<NamespaceGate::Guard> held(ValueOrFail(gate.Enter("a")));
  gate.Close("a");
  RequireError(gate.Enter("a").status(), absl::StatusCode::kFailedPrecondition,
               "Namespace 'a' is being deleted");
  REQUIRE(gate.Enter("b").ok());
  CHECK(gate.Drain("a", absl::Milliseconds(20)) == 1);  // `held` entered before the close
  held.reset();
  CHECK(gate.Drain("a", absl::Milliseconds(20)) == 0);
  gate.Reopen("a");
  REQUIRE(gate.Enter("a").ok());
}

TEST_CASE("a drain waits for operations that entered before it, not for later ones",
          "[namespace]") {
  NamespaceGate gate;
  std::optional<NamespaceGate::Guard> early(ValueOrFail(gate.Enter("x")));
  gate.Close("x");
  std::future<int64_t> drained =
      std::async(std::launch::async, [&] { return gate.Drain("x", absl::Seconds(30)); });
  while (gate.drains_begun("x") == 0) absl::SleepFor(absl::Milliseconds(1));
  // Operations that enter during the drain (on every other namespace, whichever shard they
  // share) do not hold it up.
  std::vector<NamespaceGate::Guard> later;
  for (int i = 0; i < 100; ++i) later.push_back(ValueOrFail(gate.Enter("ns" + std::to_string(i))));
  CHECK(drained.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  early.reset();
  CHECK(drained.get() == 0);
}

TEST_CASE("a guard counts once however it is moved", "[namespace]") {
  NamespaceGate gate;
  NamespaceGate::Guard a = ValueOrFail(gate.Enter("m"));
  NamespaceGate::Guard b = std::move(a);
  NamespaceGate::Guard c = ValueOrFail(gate.Enter("m"));
  c = std::move(b);  // releases c's own count
  gate.Close("m");
  CHECK(gate.Drain("m", absl::Milliseconds(10)) == 1);
}

TEST_CASE("many threads entering while namespaces are deleted never leave an operation "
          "running past its namespace's drain",
          "[namespace]") {
  NamespaceGate gate;
  std::atomic<bool> stop{false};
  std::atomic<int> inside_closed{0};  // operations admitted on "victim" after its drain ended
  std::atomic<bool> drained{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        const std::string ns = i % 2 == 0 ? "victim" : "ns" + std::to_string(t);
        absl::StatusOr<NamespaceGate::Guard> guard = gate.Enter(ns);
        if (guard.ok() && ns == "victim" && drained.load()) ++inside_closed;
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(20));
  gate.Close("victim");
  REQUIRE(gate.Drain("victim", absl::Seconds(30)) == 0);
  drained = true;
  absl::SleepFor(absl::Milliseconds(20));
  stop = true;
  for (std::thread& t : threads) t.join();
  CHECK(inside_closed.load() == 0);
}

TEST_CASE("DeleteNamespace refuses new operations and waits for those in flight",
          "[namespace]") {
  Fixture f("gate_delete_waits");
  f.Create("ns");
  REQUIRE_OK(f.kv->Put("ns", "k", "v", 0));
  std::optional<NamespaceRegistry::Guard> in_flight(ValueOrFail(f.registry->Enter("ns")));
  std::future<absl::Status> deleted =
      std::async(std::launch::async, [&] { return f.registry->Delete("ns", true); });
  // The delete has closed the namespace and waits.
  for (int i = 0; i < 1000 && f.registry->Enter("ns").ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  RequireError(f.registry->Enter("ns").status(), absl::StatusCode::kFailedPrecondition,
               "Namespace 'ns' is being deleted");
  RequireError(f.registry->Create(NamespaceDefinition{"ns"}).status(),
               absl::StatusCode::kFailedPrecondition, "Namespace 'ns' is being deleted");
  RequireError(f.registry->Delete("ns", true), absl::StatusCode::kFailedPrecondition,
               "Namespace 'ns' is being deleted");
  CHECK(deleted.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  CHECK(ValueOrFail(f.kv->Get("ns", "k")) == "v");  // nothing deleted under the operation
  REQUIRE(f.registry->Enter("other").ok());
  in_flight.reset();
  REQUIRE_OK(deleted.get());
  CHECK(f.KeysNaming("ns").empty());
  REQUIRE(f.registry->Enter("ns").ok());  // gone, and usable again
}

TEST_CASE("a delete whose operations do not end in time deletes nothing", "[namespace]") {
  Fixture f("gate_delete_bound");
  f.drain_timeout = absl::Milliseconds(50);
  f.Reopen();
  f.Create("ns");
  REQUIRE_OK(f.kv->Put("ns", "k", "v", 0));
  std::optional<NamespaceRegistry::Guard> stuck(ValueOrFail(f.registry->Enter("ns")));
  RequireError(f.registry->Delete("ns", true), absl::StatusCode::kUnavailable,
               "Namespace 'ns' still has operations in flight after 50ms; nothing was deleted "
               "and the namespace is open again");
  stuck.reset();
  REQUIRE(f.registry->Enter("ns").ok());
  CHECK(ValueOrFail(f.kv->Get("ns", "k")) == "v");
  CHECK(ValueOrFail(f.registry->Get("ns")).definition.name == "ns");
  f.Reopen();  // no delete was recorded
  CHECK(ValueOrFail(f.kv->Get("ns", "k")) == "v");
}

}  // namespace
}  // namespace sochdb::namespaces
