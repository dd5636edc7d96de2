#include "services/kv/kv_service.h"

#include <string>
#include <utility>

#include "server/rpc/status.h"
#include "services/kv/convert.h"

namespace sochdb::services {
namespace {

using auth::Capability;
using policy::Access;
using server::Execution;
using server::ToGrpcStatus;

// Streams a KvScanCursor, one entry per message.
class ScanSource final : public server::StreamSource<v1::KvScanResponse> {
 public:
  explicit ScanSource(std::unique_ptr<kv::KvScanCursor> cursor) : cursor_(std::move(cursor)) {}

  grpc::Status Next(server::CallContext& ctx, v1::KvScanResponse* out,
                    bool* has_message) override {
    absl::StatusOr<bool> more = cursor_->Next(out->mutable_key(), out->mutable_value());
    if (!more.ok()) return ToGrpcStatus(more.status());
    *has_message = *more;
    return grpc::Status::OK;
  }

 private:
  std::unique_ptr<kv::KvScanCursor> cursor_;
};

}  // namespace

KvService::KvService(kv::KvStore* store) : store_(store) {}

void KvService::Register(server::GrpcServer& server) {
  // Writes run on the worker pool in every --sync mode: under "full" they wait for an fsync
  // (and LevelDB groups concurrent ones into one), and in the other modes LevelDB can still
  // queue them behind the background syncer's fsync or a compaction stall. So do reads of many
  // keys (up to 10,000 values of 8 MiB), which would hold a completion-queue thread and every
  // call queued on it, in the pool's long lane so that writes never wait behind them; a Get
  // stays inline.
  constexpr Execution kWrites = Execution::kWorkerPool;
  constexpr Execution kLong = Execution::kLongWork;
  auto r = server.AddService<v1::KvService>();
  r.Unary("Get", {Capability::kRead, Access::kRead, &v1::KvGetRequest::namespace_,
                  &v1::KvGetRequest::key, Execution::kInline, &kv_convert::RedactGet},
          this, &KvService::Get);
  r.Unary("Put", {Capability::kWrite, Access::kWrite, &v1::KvPutRequest::namespace_,
                  &v1::KvPutRequest::key, kWrites},
          this, &KvService::Put);
  r.Unary("Delete", {Capability::kWrite, Access::kDelete, &v1::KvDeleteRequest::namespace_,
                     &v1::KvDeleteRequest::key, kWrites},
          this, &KvService::Delete);
  r.ServerStream("Scan", {Capability::kRead, Access::kRead, &v1::KvScanRequest::namespace_,
                          &kv_convert::ScanSubjects, kLong, &kv_convert::RedactScan},
                 this, &KvService::Scan);
  r.Unary("BatchGet", {Capability::kRead, Access::kRead, &v1::KvBatchGetRequest::namespace_,
                       &kv_convert::BatchGetSubjects, kLong, &kv_convert::RedactBatchGet},
          this, &KvService::BatchGet);
  r.Unary("BatchPut", {Capability::kWrite, Access::kWrite, &v1::KvBatchPutRequest::namespace_,
                       &kv_convert::BatchPutSubjects, kWrites},
          this, &KvService::BatchPut);
}

grpc::Status KvService::Get(CallContext& ctx, const v1::KvGetRequest& req,
                            v1::KvGetResponse* resp) {
  absl::StatusOr<std::optional<std::string>> value = store_->Get(req.namespace_(), req.key());
  if (!value.ok()) return ToGrpcStatus(value.status());
  if (value->has_value()) {
    resp->set_found(true);
    resp->set_value(std::move(**value));
  }
  return grpc::Status::OK;
}

grpc::Status KvService::Put(CallContext& ctx, const v1::KvPutRequest& req,
                            v1::KvPutResponse* resp) {
  absl::Status status = store_->Put(req.namespace_(), req.key(), req.value(), req.ttl_seconds());
  if (!status.ok()) return ToGrpcStatus(status);
  resp->set_success(true);
  return grpc::Status::OK;
}

grpc::Status KvService::Delete(CallContext& ctx, const v1::KvDeleteRequest& req,
                               v1::KvDeleteResponse* resp) {
  absl::StatusOr<bool> existed = store_->Delete(req.namespace_(), req.key());
  if (!existed.ok()) return ToGrpcStatus(existed.status());
  resp->set_success(*existed);
  return grpc::Status::OK;
}

grpc::Status KvService::Scan(CallContext& ctx, const v1::KvScanRequest& req,
                             std::unique_ptr<server::StreamSource<v1::KvScanResponse>>* source) {
  absl::StatusOr<std::unique_ptr<kv::KvScanCursor>> cursor =
      store_->Scan(req.namespace_(), req.prefix(), req.limit());
  if (!cursor.ok()) return ToGrpcStatus(cursor.status());
  *source = std::make_unique<ScanSource>(*std::move(cursor));
  return grpc::Status::OK;
}

grpc::Status KvService::BatchGet(CallContext& ctx, const v1::KvBatchGetRequest& req,
                                 v1::KvBatchGetResponse* resp) {
  const std::vector<std::string_view> keys = kv_convert::ToKeys(req);
  absl::StatusOr<std::vector<std::optional<std::string>>> values =
      store_->BatchGet(req.namespace_(), keys);
  if (!values.ok()) return ToGrpcStatus(values.status());
  kv_convert::FillBatchGet(req, *std::move(values), resp);
  return grpc::Status::OK;
}

grpc::Status KvService::BatchPut(CallContext& ctx, const v1::KvBatchPutRequest& req,
                                 v1::KvBatchPutResponse* resp) {
  const std::vector<kv::KvPutEntry> entries = kv_convert::ToPutEntries(req);
  absl::Status status = store_->BatchPut(req.namespace_(), entries);
  if (!status.ok()) return ToGrpcStatus(status);
  resp->set_success_count(static_cast<uint32_t>(entries.size()));
  return grpc::Status::OK;
}

}  // namespace sochdb::services
