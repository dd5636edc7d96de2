// InsertStream through the real binary: each message is checked as it arrives and refused on
// its own, named by its place in the stream (wrong length, NaN, another index, an oversized
// view_type); the stream's index must be named first (one error otherwise); errors are listed up
// to 100; a later message for an id replaces the earlier one; a stream writes the one index it
// found, never another created under its name after a drop. Errors stay in the response, as
// upstream: the call itself answers OK.
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "sochdb/v1/vector_index.grpc.pb.h"
#include "tests/common/wait_until.h"
#include "tests/integration/server_process.h"
#include "tests/integration/vector_client.h"

namespace sochdb::testing {
namespace {

v1::InsertStreamRequest Message(const std::string& index, uint64_t id, std::vector<float> v) {
  v1::InsertStreamRequest m;
  m.set_index_name(index);
  m.set_id(id);
  m.mutable_vector()->Add(v.begin(), v.end());
  return m;
}

// Writes `messages` (writes after the server stopped reading may fail; that is expected) and
// ends the stream; the call must answer OK.
void WriteAllAndFinish(grpc::ClientWriter<v1::InsertStreamRequest>& writer,
                       const std::vector<v1::InsertStreamRequest>& messages) {
  for (const v1::InsertStreamRequest& m : messages) {
    if (!writer.Write(m)) break;
  }
  writer.WritesDone();
  const grpc::Status s = writer.Finish();
  INFO(s.error_message());
  REQUIRE(s.ok());
}

// Streams `messages` on a call of its own and returns the response.
v1::InsertStreamResponse Stream(VectorClient& c,
                                const std::vector<v1::InsertStreamRequest>& messages) {
  v1::InsertStreamResponse resp;
  auto ctx = MakeContext("", absl::Seconds(60));
  auto writer = c.stub->InsertStream(ctx.get(), &resp);
  WriteAllAndFinish(*writer, messages);
  return resp;
}

TEST_CASE("InsertStream refuses each bad message on its own, named by its place in the stream") {
  ServerProcess server({});
  StartOrFail(server);
  VectorClient c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("s", 4, v1::DISTANCE_METRIC_L2, &created).ok());
  std::vector<v1::InsertStreamRequest> messages = {
      Message("s", 1, {0, 0, 0, 1}),
      Message("", 2, {1, 2, 3, 4, 5, 6, 7, 8}),  // two vectors' worth: before, re-sliced
      Message("", 3, {1, std::numeric_limits<float>::quiet_NaN(), 3, 4}),
      Message("other", 4, {1, 2, 3, 4}),  // before: went into "s"
      Message("", 5, {1, 2, 3, 4}),
      Message("s", 1, {0, 0, 0, 2}),  // replaces message 1's vector
  };
  messages[4].mutable_metadata()->set_view_type(std::string(257, 'v'));
  for (uint64_t id = 10; id < 210; ++id) {
    messages.push_back(Message("", id, {static_cast<float>(id), 1, 1, 1}));
  }
  // Before: message 2's floats made the first batch's size wrong and the whole batch of 128
  // (messages 1-128) failed with "Vector data size mismatch"; message 4 went into "s".
  const v1::InsertStreamResponse resp = Stream(c, messages);
  CHECK(resp.total_inserted() == 202);  // 1, 1 again, 10..209
  REQUIRE(resp.errors_size() == 4);
  CHECK(resp.errors(0) == "stream message 2: vector has 8 floats; the dimension is 4");
  CHECK(resp.errors(1) == "stream message 3: vector[1] is NaN");
  CHECK(resp.errors(2) ==
        "stream message 4: index_name differs from the stream's index 's' (one stream writes "
        "one index)");
  CHECK(resp.errors(3) ==
        "stream message 5: metadata.view_type is 257 bytes; the limit is 256 bytes");
  CHECK(c.Count("s") == 201);
  v1::SearchResponse found;
  REQUIRE(c.Search("s", {0, 0, 0, 2}, 1, &found).ok());
  REQUIRE(found.results_size() == 1);
  CHECK(found.results(0).id() == 1);
  CHECK(found.results(0).distance() == 0.f);  // the replacement, not the first vector
}

TEST_CASE("InsertStream refuses an oversized message as it arrives, without buffering it") {
  ServerProcess server({});
  StartOrFail(server);
  VectorClient c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("tiny", 4, v1::DISTANCE_METRIC_L2, &created).ok());
  // 3 x 4 MB of floats for a 4-dimension index: before, appended to the batch unchecked (128 of
  // them were 1.09 GB) and then failed as a whole.
  std::vector<v1::InsertStreamRequest> messages;
  for (uint64_t id = 0; id < 3; ++id) {
    messages.push_back(Message(id == 0 ? "tiny" : "", id, std::vector<float>(1'000'000, 1.f)));
  }
  messages.push_back(Message("", 3, {1, 1, 1, 1}));
  const v1::InsertStreamResponse resp = Stream(c, messages);
  CHECK(resp.total_inserted() == 1);
  REQUIRE(resp.errors_size() == 3);
  CHECK(resp.errors(2) == "stream message 3: vector has 1000000 floats; the dimension is 4");
}

TEST_CASE("InsertStream without an index name ends with one error; errors are listed to 100") {
  ServerProcess server({});
  StartOrFail(server);
  VectorClient c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("e", 2, v1::DISTANCE_METRIC_L2, &created).ok());
  // Before: one "First message must include index_name" per message, for as long as the
  // client kept sending.
  std::vector<v1::InsertStreamRequest> unnamed;
  for (uint64_t id = 0; id < 50; ++id) unnamed.push_back(Message("", id, {1, 1}));
  v1::InsertStreamResponse resp = Stream(c, unnamed);
  CHECK(resp.total_inserted() == 0);
  REQUIRE(resp.errors_size() == 1);
  CHECK(resp.errors(0) == "First message must include index_name");

  resp = Stream(c, {Message(std::string(300, 'n'), 1, {1, 1}), Message("e", 2, {1, 1})});
  REQUIRE(resp.errors_size() == 1);
  CHECK(resp.errors(0) == "index name is 300 bytes; the limit is 256 bytes");

  resp = Stream(c, {Message("nope", 1, {1, 1}), Message("e", 2, {1, 1})});
  REQUIRE(resp.errors_size() == 1);
  CHECK(resp.errors(0) == "Index not found: default:nope");

  std::vector<v1::InsertStreamRequest> bad = {Message("e", 0, {1, 1})};
  for (uint64_t id = 1; id <= 150; ++id) bad.push_back(Message("", id, {1, 1, 1}));
  resp = Stream(c, bad);
  CHECK(resp.total_inserted() == 1);
  REQUIRE(resp.errors_size() == 101);
  CHECK(resp.errors(0) == "stream message 2: vector has 3 floats; the dimension is 2");
  CHECK(resp.errors(99) == "stream message 101: vector has 3 floats; the dimension is 2");
  CHECK(resp.errors(100) == "50 more errors (the first 100 are listed)");
}

void Drop(VectorClient& c, const std::string& name) {
  v1::DropIndexRequest req;
  req.set_name(name);
  v1::DropIndexResponse resp;
  REQUIRE(c.stub->DropIndex(MakeContext().get(), req, &resp).ok());
  REQUIRE(resp.success());
}

// A stream with its first batch (messages 1-128, ids 0..127) stored in index `name`: the
// server has looked the index up by then.
struct StreamWithFirstBatch {
  StreamWithFirstBatch(VectorClient& c, const std::string& name)
      : ctx(MakeContext("", absl::Seconds(60))), writer(c.stub->InsertStream(ctx.get(), &resp)) {
    for (uint64_t id = 0; id < 128; ++id) {
      REQUIRE(writer->Write(Message(id == 0 ? name : "", id, {1, 1, 1, static_cast<float>(id)})));
    }
    REQUIRE(WaitUntil([&] { return c.Count(name) == 128; }));
  }
  // Sends `messages`, ends the stream and returns its response (the call must answer OK).
  v1::InsertStreamResponse Finish(const std::vector<v1::InsertStreamRequest>& messages) {
    WriteAllAndFinish(*writer, messages);
    return resp;
  }

  v1::InsertStreamResponse resp;
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientWriter<v1::InsertStreamRequest>> writer;
};

TEST_CASE("InsertStream does not write an index created under its index's name after a drop") {
  ServerProcess server({});
  StartOrFail(server);
  VectorClient c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("r", 4, v1::DISTANCE_METRIC_L2, &created).ok());
  StreamWithFirstBatch stream(c, "r");
  Drop(c, "r");
  REQUIRE(c.Create("r", 4, v1::DISTANCE_METRIC_L2, &created).ok());
  std::vector<v1::InsertStreamRequest> rest;
  for (uint64_t id = 200; id < 205; ++id) rest.push_back(Message("", id, {2, 2, 2, 2}));
  // Before: total_inserted 133, no error, and the new "r" held the last 5 vectors.
  const v1::InsertStreamResponse resp = stream.Finish(rest);
  CHECK(resp.total_inserted() == 128);
  CHECK(c.Count("r") == 0);
  REQUIRE(resp.errors_size() == 1);
  CHECK(resp.errors(0) ==
        "stream messages 129-133 not stored: Index not found: default:r (the index was dropped; "
        "one of that name was created since)");
}

TEST_CASE("InsertStream writes nothing more once a batch could not be stored") {
  ServerProcess server({});
  StartOrFail(server);
  VectorClient c(server);
  v1::CreateIndexResponse created;
  REQUIRE(c.Create("d", 4, v1::DISTANCE_METRIC_L2, &created).ok());
  StreamWithFirstBatch stream(c, "d");
  Drop(c, "d");
  // Message 130 repeats message 129's id: the batch holding 129 goes first and fails.
  // Before: message 130 was kept for the next batch, which the end of the stream tried to
  // store after all ("stream message 130 not stored", a second error).
  const v1::InsertStreamResponse resp =
      stream.Finish({Message("", 500, {3, 3, 3, 3}), Message("", 500, {4, 4, 4, 4})});
  CHECK(resp.total_inserted() == 128);
  REQUIRE(resp.errors_size() == 1);
  CHECK(resp.errors(0) == "stream message 129 not stored: Index not found: default:d");
}

}  // namespace
}  // namespace sochdb::testing
