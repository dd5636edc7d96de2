#include "server/rpc/calls.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "server/rpc/worker_pool.h"
#include "spdlog/spdlog.h"

namespace sochdb::server::internal {

grpc::Status AdmitCall(CallContext& ctx, std::optional<std::string_view> ns) {
  grpc::Status status = ctx.Authorize();
  if (!status.ok()) return status;
  if (ns.has_value()) {
    status = ctx.CheckNamespace(*ns);
    if (!status.ok()) return status;
  }
  if (ctx.Expired()) return DeadlineStatus(ctx);
  return grpc::Status::OK;
}

bool Dispatch(const MethodInfo& info, std::function<void()> work) {
  if (info.execution == Execution::kInline || info.runtime->pool == nullptr) {
    work();
    return true;
  }
  return info.runtime->pool->TrySubmit(std::move(work));
}

grpc::Status OverloadedStatus() {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      "server overloaded: the worker queue is full; retry with backoff");
}

grpc::Status DeadlineStatus(const CallContext& ctx) {
  return grpc::Status(
      grpc::StatusCode::DEADLINE_EXCEEDED,
      absl::StrCat("deadline exceeded (the server allows at most ",
                   absl::FormatDuration(ctx.method().runtime->max_call_duration), " per call)"));
}

grpc::Status ExceptionStatus(const MethodInfo& info, const char* what) {
  spdlog::error("{}/{}: handler threw: {}", info.service, info.method, what);
  return grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
}

}  // namespace sochdb::server::internal
