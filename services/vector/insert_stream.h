// InsertStream's sink: the client stream of single vectors, checked one message at a time as
// they arrive and inserted in batches. As upstream, what goes wrong is reported in the
// response's `errors` (never as a status) and `total_inserted` counts the vectors stored; unlike
// upstream, a bad message is refused on its own, named by its place in the stream, instead of
// failing (or silently re-slicing) the batch it would have joined.
//
//  * The first message names the index; without a name the stream ends with the one error
//    "First message must include index_name", an unknown index with "Index not found: ...".
//    A later message may repeat the name; naming another index refuses that message.
//  * The stream writes the index its first message found, that one creation of it: once it is
//    dropped, batches are refused ("Index not found: ..."), even when an index of the same
//    name has been created since.
//  * A message whose vector is not one vector of the index's dimension, holds a NaN, ±Inf or a
//    component past ±1e16, or whose view_type passes 256 bytes is refused:
//    "stream message 7: vector[2] is NaN" (message 7 of the stream, component 2).
//  * Accepted messages are inserted 128 at a time. An id already waiting in the batch sends
//    the batch first, so a later message for an id replaces an earlier one as it would in
//    separate calls (each is counted). A batch that cannot be stored ends the stream with
//    "stream messages 129-256 not stored: <why>".
//  * At most 100 errors are listed, then one line counting the rest.
#ifndef SOCHDB_SERVICES_VECTOR_INSERT_STREAM_H_
#define SOCHDB_SERVICES_VECTOR_INSERT_STREAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/vector/vector_index_store.h"
#include "server/rpc/call_context.h"
#include "sochdb/v1/vector_index.pb.h"

namespace sochdb::services {

class InsertStreamSink final
    : public server::StreamSink<v1::InsertStreamRequest, v1::InsertStreamResponse> {
 public:
  // `indexes` is not owned and must outlive the sink.
  explicit InsertStreamSink(vector::VectorIndexStore* indexes);

  grpc::Status OnMessage(server::CallContext& ctx, const v1::InsertStreamRequest& m) override;
  bool StopReading() const override { return stop_; }
  grpc::Status Finish(server::CallContext& ctx, v1::InsertStreamResponse* resp) override;

  // Messages per insert, and the most errors listed in the response.
  static constexpr size_t kBatch = 128;
  static constexpr size_t kMaxListedErrors = 100;

 private:
  // Resolves the index the first message names; false (with the error, and the stream
  // stopped) when it cannot be used.
  bool Open(const std::string& tenant, const std::string& name);
  // Why message `m` (whose metadata is `meta`) cannot be stored, or OK.
  absl::Status Check(const v1::InsertStreamRequest& m, const vector::VectorMetadata& meta) const;
  void Flush();
  void AddError(std::string error);

  vector::VectorIndexStore* const indexes_;
  const absl::Time started_;
  std::string tenant_, index_;
  uint64_t incarnation_ = 0;  // the index's creation the stream writes (see Open)
  uint32_t dimension_ = 0;
  uint64_t received_ = 0;        // messages so far: the current one's number, from 1
  uint64_t first_buffered_ = 0;  // the numbers of the first and last messages in the batch
  uint64_t last_buffered_ = 0;
  // The batch. Its size is bounded by what Check admits: 128 x (16 KiB of floats at the
  // largest dimension + a 256-byte view_type) is about 2 MiB, whatever the client sends.
  std::vector<uint64_t> ids_;
  std::vector<float> vectors_;
  std::vector<vector::VectorMetadata> metadata_;
  absl::flat_hash_set<uint64_t> buffered_ids_;
  std::vector<std::string> errors_;
  uint64_t unlisted_errors_ = 0;
  uint32_t inserted_ = 0;
  bool stop_ = false;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_VECTOR_INSERT_STREAM_H_
