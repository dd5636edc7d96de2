// The call layer: one generic call object per RPC kind (unary, server-streaming,
// client-streaming) over gRPC's asynchronous API. Each object's address is its completion-queue
// tag; Proceed(ok) advances its small state machine. Every kind runs the same admission step
// before the handler (authenticate, capability, namespace, deadline), records the same metrics
// and turns handler exceptions into INTERNAL. This file and grpc_server.* are the only code that
// knows about completion queues or tags.
//
// Lifetime: a call object deletes itself after its Finish has completed, or when its request
// tag comes back !ok (server shutting down). It posts a fresh call for its method as soon as a
// request arrives, so each queue always has calls waiting for every method.
#ifndef SOCHDB_SERVER_RPC_CALLS_H_
#define SOCHDB_SERVER_RPC_CALLS_H_

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/time/time.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/async_unary_call.h"
#include "server/rpc/call_context.h"
#include "server/rpc/rpc_metrics.h"

namespace sochdb::server {

// Anything whose address is used as a completion-queue tag.
class CallTag {
 public:
  virtual ~CallTag() = default;
  virtual void Proceed(bool ok) = 0;
};

namespace internal {

// Authenticates, checks the capability, the namespace (when the method has one) and the
// deadline. OK means the handler may run.
grpc::Status AdmitCall(CallContext& ctx, std::optional<std::string_view> ns);

// Runs `work` inline or on the worker pool, as the method says. False when the pool refused it.
bool Dispatch(const MethodInfo& info, std::function<void()> work);

grpc::Status OverloadedStatus();
grpc::Status DeadlineStatus(const CallContext& ctx);
grpc::Status ExceptionStatus(const MethodInfo& info, const char* what);

// Calls `fn` (returning grpc::Status); an exception becomes INTERNAL with a log line.
template <class Fn>
grpc::Status Guarded(const MethodInfo& info, Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return ExceptionStatus(info, e.what());
  } catch (...) {
    return ExceptionStatus(info, "unknown exception");
  }
}

}  // namespace internal

template <class Service, class Req, class Resp>
struct UnaryMethod {
  using RequestFn = void (Service::*)(grpc::ServerContext*, Req*,
                                      grpc::ServerAsyncResponseWriter<Resp>*,
                                      grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);
  MethodInfo info;
  Service* service;
  RequestFn request;
  std::function<std::string_view(const Req&)> namespace_of;
  UnaryHandler<Req, Resp> handler;
};

template <class Service, class Req, class Resp>
class UnaryCall final : public CallTag {
 public:
  using Method = UnaryMethod<Service, Req, Resp>;

  static void Post(const Method* method, grpc::ServerCompletionQueue* cq) {
    new UnaryCall(method, cq);
  }

  void Proceed(bool ok) override {
    if (finishing_) {
      method_->info.metrics->Finished(code_, absl::Now() - ctx_->started());
      delete this;
      return;
    }
    if (!ok) {  // the server is shutting down; no call arrived
      delete this;
      return;
    }
    Post(method_, cq_);
    method_->info.metrics->Started();
    ctx_.emplace(method_->info, server_context_, absl::Now());
    if (!internal::Dispatch(method_->info, [this] { Run(); })) {
      Finish(internal::OverloadedStatus());
    }
  }

 private:
  UnaryCall(const Method* method, grpc::ServerCompletionQueue* cq)
      : method_(method), cq_(cq), responder_(&server_context_) {
    (method->service->*method->request)(&server_context_, &request_, &responder_, cq, cq, this);
  }

  void Run() {
    grpc::Status status = internal::Guarded(method_->info, [this] {
      std::optional<std::string_view> ns;
      if (method_->namespace_of) ns = method_->namespace_of(request_);
      grpc::Status admitted = internal::AdmitCall(*ctx_, ns);
      if (!admitted.ok()) return admitted;
      return method_->handler(*ctx_, request_, &response_);
    });
    Finish(status);
  }

  // The last thing a step does: once Finish is posted, another thread may delete `this`.
  void Finish(const grpc::Status& status) {
    finishing_ = true;
    code_ = status.error_code();
    if (status.ok()) {
      responder_.Finish(response_, status, this);
    } else {
      responder_.FinishWithError(status, this);
    }
  }

  const Method* const method_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext server_context_;
  Req request_;
  Resp response_;
  grpc::ServerAsyncResponseWriter<Resp> responder_;
  std::optional<CallContext> ctx_;
  bool finishing_ = false;
  grpc::StatusCode code_ = grpc::StatusCode::OK;
};

template <class Service, class Req, class Resp>
struct ServerStreamMethod {
  using RequestFn = void (Service::*)(grpc::ServerContext*, Req*, grpc::ServerAsyncWriter<Resp>*,
                                      grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);
  MethodInfo info;
  Service* service;
  RequestFn request;
  std::function<std::string_view(const Req&)> namespace_of;
  ServerStreamHandler<Req, Resp> handler;
};

template <class Service, class Req, class Resp>
class ServerStreamCall final : public CallTag {
 public:
  using Method = ServerStreamMethod<Service, Req, Resp>;

  static void Post(const Method* method, grpc::ServerCompletionQueue* cq) {
    new ServerStreamCall(method, cq);
  }

  void Proceed(bool ok) override {
    switch (state_) {
      case State::kWaitingForRequest:
        if (!ok) {
          delete this;
          return;
        }
        Post(method_, cq_);
        method_->info.metrics->Started();
        ctx_.emplace(method_->info, server_context_, absl::Now());
        if (!internal::Dispatch(method_->info, [this] { Start(); })) {
          Finish(internal::OverloadedStatus());
        }
        return;
      case State::kWriting:
        if (!ok) {  // the client went away or the call was cancelled
          Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream write failed"));
          return;
        }
        if (!internal::Dispatch(method_->info, [this] { Pump(); })) {
          Finish(internal::OverloadedStatus());
        }
        return;
      case State::kFinishing:
        method_->info.metrics->Finished(code_, absl::Now() - ctx_->started());
        delete this;
        return;
    }
  }

 private:
  enum class State { kWaitingForRequest, kWriting, kFinishing };

  ServerStreamCall(const Method* method, grpc::ServerCompletionQueue* cq)
      : method_(method), cq_(cq), writer_(&server_context_) {
    (method->service->*method->request)(&server_context_, &request_, &writer_, cq, cq, this);
  }

  void Start() {
    grpc::Status status = internal::Guarded(method_->info, [this] {
      std::optional<std::string_view> ns;
      if (method_->namespace_of) ns = method_->namespace_of(request_);
      grpc::Status admitted = internal::AdmitCall(*ctx_, ns);
      if (!admitted.ok()) return admitted;
      return method_->handler(*ctx_, request_, &source_);
    });
    if (!status.ok() || source_ == nullptr) {
      Finish(status);
      return;
    }
    Pump();
  }

  // Produces the next message and writes it, or finishes the stream.
  void Pump() {
    if (ctx_->Expired()) {
      Finish(internal::DeadlineStatus(*ctx_));
      return;
    }
    bool has_message = false;
    response_.Clear();
    grpc::Status status = internal::Guarded(
        method_->info, [this, &has_message] { return source_->Next(*ctx_, &response_, &has_message); });
    if (!status.ok() || !has_message) {
      Finish(status);
      return;
    }
    state_ = State::kWriting;
    writer_.Write(response_, this);
  }

  void Finish(const grpc::Status& status) {
    source_.reset();  // release snapshots and iterators before the answer goes out
    state_ = State::kFinishing;
    code_ = status.error_code();
    writer_.Finish(status, this);
  }

  const Method* const method_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext server_context_;
  Req request_;
  Resp response_;
  grpc::ServerAsyncWriter<Resp> writer_;
  std::optional<CallContext> ctx_;
  std::unique_ptr<StreamSource<Resp>> source_;
  State state_ = State::kWaitingForRequest;
  grpc::StatusCode code_ = grpc::StatusCode::OK;
};

template <class Service, class Req, class Resp>
struct ClientStreamMethod {
  using RequestFn = void (Service::*)(grpc::ServerContext*, grpc::ServerAsyncReader<Resp, Req>*,
                                      grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);
  MethodInfo info;
  Service* service;
  RequestFn request;
  ClientStreamHandler<Req, Resp> handler;
};

// Namespaces in a client stream arrive with its messages: the sink checks each one with
// CallContext::CheckNamespace.
template <class Service, class Req, class Resp>
class ClientStreamCall final : public CallTag {
 public:
  using Method = ClientStreamMethod<Service, Req, Resp>;

  static void Post(const Method* method, grpc::ServerCompletionQueue* cq) {
    new ClientStreamCall(method, cq);
  }

  void Proceed(bool ok) override {
    switch (state_) {
      case State::kWaitingForRequest:
        if (!ok) {
          delete this;
          return;
        }
        Post(method_, cq_);
        method_->info.metrics->Started();
        ctx_.emplace(method_->info, server_context_, absl::Now());
        Step([this] { Start(); });
        return;
      case State::kReading:
        // !ok: the client half-closed (or the call ended); answer with what was received.
        if (ok) {
          Step([this] { Consume(); });
        } else {
          Step([this] { Complete(); });
        }
        return;
      case State::kFinishing:
        method_->info.metrics->Finished(code_, absl::Now() - ctx_->started());
        delete this;
        return;
    }
  }

 private:
  enum class State { kWaitingForRequest, kReading, kFinishing };

  ClientStreamCall(const Method* method, grpc::ServerCompletionQueue* cq)
      : method_(method), cq_(cq), reader_(&server_context_) {
    (method->service->*method->request)(&server_context_, &reader_, cq, cq, this);
  }

  template <class Fn>
  void Step(Fn&& work) {
    if (!internal::Dispatch(method_->info, std::forward<Fn>(work))) {
      Finish(internal::OverloadedStatus());
    }
  }

  void Start() {
    grpc::Status status = internal::Guarded(method_->info, [this] {
      grpc::Status admitted = internal::AdmitCall(*ctx_, std::nullopt);
      if (!admitted.ok()) return admitted;
      return method_->handler(*ctx_, &sink_);
    });
    if (status.ok() && sink_ == nullptr) {
      status = grpc::Status(grpc::StatusCode::INTERNAL, "handler returned no stream sink");
    }
    if (!status.ok()) {
      Finish(status);
      return;
    }
    Read();
  }

  void Read() {
    request_.Clear();
    state_ = State::kReading;
    reader_.Read(&request_, this);
  }

  void Consume() {
    if (ctx_->Expired()) {
      Finish(internal::DeadlineStatus(*ctx_));
      return;
    }
    grpc::Status status =
        internal::Guarded(method_->info, [this] { return sink_->OnMessage(*ctx_, request_); });
    if (!status.ok()) {
      Finish(status);
      return;
    }
    Read();
  }

  void Complete() {
    grpc::Status status =
        internal::Guarded(method_->info, [this] { return sink_->Finish(*ctx_, &response_); });
    Finish(status);
  }

  void Finish(const grpc::Status& status) {
    sink_.reset();
    state_ = State::kFinishing;
    code_ = status.error_code();
    if (status.ok()) {
      reader_.Finish(response_, status, this);
    } else {
      reader_.FinishWithError(status, this);
    }
  }

  const Method* const method_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext server_context_;
  Req request_;
  Resp response_;
  grpc::ServerAsyncReader<Resp, Req> reader_;
  std::optional<CallContext> ctx_;
  std::unique_ptr<StreamSink<Req, Resp>> sink_;
  State state_ = State::kWaitingForRequest;
  grpc::StatusCode code_ = grpc::StatusCode::OK;
};

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_CALLS_H_
