#include "server/rpc/calls.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "server/rpc/worker_pool.h"
#include "spdlog/spdlog.h"

namespace sochdb::server::internal {
namespace {

// protobuf reports why a parse failed (e.g. which string field held invalid UTF-8) only through
// its log. The handler keeps the last message per thread for ParseMessage, and sends the text
// to spdlog instead of raw stderr.
thread_local std::string last_protobuf_error;

void ProtobufLogHandler(google::protobuf::LogLevel level, const char* filename, int line,
                        const std::string& message) {
  last_protobuf_error = message;
  if (level >= google::protobuf::LOGLEVEL_FATAL) {
    spdlog::critical("protobuf: {}", message);
  } else {
    spdlog::debug("protobuf: {}", message);
  }
}

void InstallProtobufLogHandler() {
  static const bool installed = [] {
    google::protobuf::SetLogHandler(&ProtobufLogHandler);
    return true;
  }();
  (void)installed;
}

}  // namespace

grpc::Status AdmitCaller(CallContext& ctx) { return ctx.Authorize(); }

grpc::Status ParseMessage(grpc::ByteBuffer* buffer, google::protobuf::Message* message,
                          int position) {
  InstallProtobufLogHandler();
  last_protobuf_error.clear();
  const grpc::Status parsed =
      grpc::SerializationTraits<google::protobuf::Message>::Deserialize(buffer, message);
  if (parsed.ok()) return parsed;
  const std::string what =
      position > 0 ? absl::StrCat("stream message ", position) : std::string("request");
  const std::string why = last_protobuf_error.empty()
                              ? std::string("malformed protobuf encoding")
                              : last_protobuf_error;
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat(what, " is not a valid ", message->GetTypeName(), ": ", why));
}

grpc::Status SerializeMessage(const google::protobuf::Message& message, grpc::ByteBuffer* buffer) {
  buffer->Clear();  // a reused buffer still holds the previous message
  bool own_buffer = false;
  grpc::Status status = grpc::SerializationTraits<google::protobuf::Message>::Serialize(
      message, buffer, &own_buffer);
  if (!status.ok()) {
    spdlog::error("cannot serialize a {}: {}", message.GetTypeName(), status.error_message());
    return grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
  }
  return status;
}

namespace {

WorkerPool::Lane LaneOf(Execution execution) {
  return execution == Execution::kLongWork ? WorkerPool::Lane::kLong : WorkerPool::Lane::kShort;
}

}  // namespace

bool Dispatch(const MethodInfo& info, std::function<void()> work) {
  if (info.execution == Execution::kInline || info.runtime->pool == nullptr) {
    work();
    return true;
  }
  return info.runtime->pool->TrySubmit(std::move(work), LaneOf(info.execution));
}

void Continue(const MethodInfo& info, std::function<void()> work) {
  if (info.execution != Execution::kInline && info.runtime->pool != nullptr &&
      info.runtime->pool->TrySubmit(work, LaneOf(info.execution))) {
    return;
  }
  work();
}

grpc::Status OverloadedStatus() {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      "server overloaded: the worker queue is full; retry with backoff");
}

grpc::Status ExceptionStatus(const MethodInfo& info, const char* what) {
  spdlog::error("{}/{}: handler threw: {}", info.service, info.method, what);
  return grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
}

bool DeadlineAlarm::Arm(CompletionQueueGate* gate, absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return false;
  armed_ = gate->Post([this, gate, deadline] {
    alarm_.Set(gate->cq(), absl::ToChronoTime(deadline), this);
  });
  return armed_;
}

void DeadlineAlarm::Disarm() {
  if (armed_) alarm_.Cancel();
}

void DeadlineAlarm::Proceed(bool ok) {
  if (ok) context_->TryCancel();  // fired: the call ran out of time
  owner_->Release();              // may delete this object; touch nothing after
}

}  // namespace sochdb::server::internal
