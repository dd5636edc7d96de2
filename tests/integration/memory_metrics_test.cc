// Agent memory in the server's Prometheus metrics: the episodes in the in-memory text indexes
// and those indexes' memory, through writes, a delete and a restart (the index is rebuilt from
// the stored episodes when a namespace is first used).
#include <catch2/catch.hpp>
#include <csignal>
#include <string>

#include "sochdb/v1/context.grpc.pb.h"
#include "sochdb/v1/context_extension.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/start_or_fail.h"

namespace sochdb::testing {
namespace {

namespace v1 = sochdb::v1;

TEST_CASE("agent memory's text index figures in the metrics") {
  ServerProcessOptions options;
  options.metrics = true;
  ServerProcess server(options);
  StartOrFail(server);
  const auto write = [&](const std::string& text) {
    v1::WriteEpisodeRequest req;
    req.set_namespace_("agent");
    req.set_text(text);
    v1::WriteEpisodeResponse resp;
    REQUIRE(v1::ContextService::NewStub(server.Channel())
                ->WriteEpisode(MakeContext().get(), req, &resp)
                .ok());
    REQUIRE(resp.error().empty());
  };
  CHECK(Metric(server, "sochdb_memory_episodes_indexed") == 0);
  CHECK(Metric(server, "sochdb_memory_text_index_bytes") == 0);
  write("the deadline moved to Friday");
  write("lunch with the design team");
  write("ship the release notes");
  CHECK(Metric(server, "sochdb_memory_episodes_indexed") == 3);
  const double bytes = Metric(server, "sochdb_memory_text_index_bytes");
  CHECK(bytes > 0);

  v1::DeleteEpisodeRequest del;
  del.set_namespace_("agent");
  del.set_episode_id(2);
  v1::DeleteEpisodeResponse deleted;
  REQUIRE(v1::ContextExtensionService::NewStub(server.Channel())
              ->DeleteEpisode(MakeContext().get(), del, &deleted)
              .ok());
  CHECK(Metric(server, "sochdb_memory_episodes_indexed") == 2);

  // After a restart nothing is loaded until the namespace is used; a write loads it whole.
  REQUIRE(server.Stop(SIGTERM) == 0);
  StartOrFail(server);
  CHECK(Metric(server, "sochdb_memory_episodes_indexed") == 0);
  write("one more");
  CHECK(Metric(server, "sochdb_memory_episodes_indexed") == 3);
}

}  // namespace
}  // namespace sochdb::testing
