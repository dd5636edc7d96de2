// The call layer: one generic call object per RPC kind (unary, server-streaming,
// client-streaming) over gRPC's asynchronous API and RawService (bytes in, bytes out). Each
// object's address is its completion-queue tag; Proceed(ok) advances its small state machine.
// Every kind runs the same admission before the handler (authenticate and check the capability,
// parse the request, check its namespace and the deadline), records the same metrics and turns
// handler exceptions into INTERNAL. server/rpc is the only code that knows about completion
// queues or tags.
//
// Lifetime rules:
//  * Every operation is started through the queue's CompletionQueueGate; a call whose operation
//    cannot start (the queue is closing) ends at once instead.
//  * `ok == false` on a read, write or alarm means the call is dead: it ends without starting
//    another operation (destroying its ServerContext cancels it in gRPC).
//  * After a step has started an operation it touches nothing more: the completion may already
//    be running on another thread.
//  * Streaming calls also hold a deadline alarm that cancels them 1 s (kStalledStreamGrace) after
//    the call's deadline (the client's or --max-call-s, whichever is earlier) even when the
//    client stops reading or writing; such a call is freed only once both
//    its last operation and its alarm have come back (a reference count of two).
#ifndef SOCHDB_SERVER_RPC_CALLS_H_
#define SOCHDB_SERVER_RPC_CALLS_H_

#include <atomic>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/alarm.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/async_unary_call.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/rpc/call_context.h"
#include "server/rpc/raw_service.h"
#include "server/rpc/rpc_metrics.h"

namespace sochdb::server {

// Anything whose address is used as a completion-queue tag.
class CallTag {
 public:
  virtual ~CallTag() = default;
  virtual void Proceed(bool ok) = 0;
};

// One completion queue and the gate every operation on it passes, so that no operation can be
// started after the queue's Shutdown (gRPC aborts the process if one is).
class CompletionQueueGate {
 public:
  explicit CompletionQueueGate(std::unique_ptr<grpc::ServerCompletionQueue> cq)
      : cq_(std::move(cq)) {}

  grpc::ServerCompletionQueue* cq() const { return cq_.get(); }

  // Runs `start` (which starts one operation on this queue) unless the queue is closing.
  // False when it did not run.
  template <class Fn>
  bool Post(Fn&& start) {
    absl::ReaderMutexLock lock(&mu_);
    if (closed_) return false;
    start();
    return true;
  }

  // Refuses every later Post, then shuts the queue down (its poller drains it and exits).
  void Close() {
    absl::WriterMutexLock lock(&mu_);
    closed_ = true;
    cq_->Shutdown();
  }

 private:
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
};

// What every call object knows of its method.
struct MethodBinding {
  MethodInfo info;
  RawService* service = nullptr;
  int index = 0;  // position of the method in its service descriptor
};

namespace internal {

// Authenticates the caller and checks the method's capability.
grpc::Status AdmitCaller(CallContext& ctx);
// Runs the governance step for `request` as `target` describes it (when the method has one),
// then checks the deadline. `*admission` is held until the operation ends.
template <class Req>
grpc::Status AdmitRequest(CallContext& ctx, const Req& request, const Target<Req>& target,
                          governance::Admission* admission) {
  if (target.scopes_of) {
    std::vector<Scope> scopes;
    target.scopes_of(request, &scopes);
    grpc::Status s = ctx.AdmitScopes(scopes, admission);
    if (!s.ok()) return s;
  } else if (target.governed()) {
    std::optional<std::string_view> ns;
    if (target.namespace_of) ns = target.namespace_of(request);
    const auto keys = [&](governance::KeyList* list) {
      if (target.keys_of) target.keys_of(request, list);
    };
    const auto context = [&ctx] { return ctx.PolicyContext(); };
    const governance::Operation op{&ctx.principal(), ctx.method().policy_service,
                                   ctx.method().method, target.access, ns, keys, context};
    grpc::Status s = ctx.Admit(op, admission);
    if (!s.ok()) return s;
  }
  return ctx.CheckDeadline();
}

// Parses a request (or a client-stream message: `position` > 0 names it) into `message`.
// INVALID_ARGUMENT naming the message type, and the field for invalid UTF-8, when it is not one.
grpc::Status ParseMessage(grpc::ByteBuffer* buffer, google::protobuf::Message* message,
                          int position = 0);
// Serializes a response; INTERNAL if that fails (it cannot for a well-formed message).
grpc::Status SerializeMessage(const google::protobuf::Message& message, grpc::ByteBuffer* buffer);

// The admission every call with a request runs, in order: authenticate and check the capability
// (before parsing: an unauthenticated caller learns nothing about its request), parse, the
// governance step (namespace rule, policies), the deadline.
template <class Req>
grpc::Status AdmitAndParse(CallContext& ctx, grpc::ByteBuffer* buffer, Req* request,
                           const Target<Req>& target, governance::Admission* admission) {
  grpc::Status s = AdmitCaller(ctx);
  if (!s.ok()) return s;
  s = ParseMessage(buffer, request);
  if (!s.ok()) return s;
  return AdmitRequest(ctx, *request, target, admission);
}

// Redacts `response` when the admission filled `redactor` (the method says how).
template <class Req>
void RedactAnswer(const Target<Req>& target, const Req& request,
                  google::protobuf::Message* response, const governance::Redactor& redactor) {
  if (redactor.active() && target.redact != nullptr) target.redact(request, response, redactor);
}

// Runs `work` inline or on the worker pool, as the method says. False when the pool refused it.
bool Dispatch(const MethodInfo& info, std::function<void()> work);
// For steps of a call already admitted: on the pool when it has room, otherwise inline, so a
// momentarily full queue never cuts a stream in half.
void Continue(const MethodInfo& info, std::function<void()> work);

grpc::Status OverloadedStatus();
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

// Something reference-counted that an alarm releases when its tag comes back.
class Releasable {
 public:
  virtual ~Releasable() = default;
  virtual void Release() = 0;
};

// Cancels a streaming call when its deadline passes: the alarm's tag.
class DeadlineAlarm final : public CallTag {
 public:
  DeadlineAlarm(grpc::ServerContext* context, Releasable* owner)
      : context_(context), owner_(owner) {}
  // Arms the alarm on `gate`'s queue; false when the queue is closing (not armed).
  bool Arm(CompletionQueueGate* gate, absl::Time deadline);
  // Fires the alarm early (with ok == false) if it is armed.
  void Disarm();
  void Proceed(bool ok) override;

 private:
  grpc::ServerContext* const context_;
  Releasable* const owner_;  // may be destroyed by Release(), this object with it
  grpc::Alarm alarm_;
  bool armed_ = false;
};

}  // namespace internal

template <class Req, class Resp>
struct UnaryMethod {
  MethodBinding binding;
  Target<Req> target;
  UnaryHandler<Req, Resp> handler;
};

template <class Req, class Resp>
class UnaryCall final : public CallTag {
 public:
  using Method = UnaryMethod<Req, Resp>;

  // Waits for the method's next call on `gate`'s queue (unless the server is shutting down).
  static void Post(const Method* method, CompletionQueueGate* gate) {
    if (!method->binding.info.runtime->accepting.load(std::memory_order_acquire)) return;
    auto* call = new UnaryCall(method, gate);
    const bool posted = gate->Post([call, method, gate] {
      method->binding.service->RequestUnary(method->binding.index, &call->server_context_,
                                            &call->request_buffer_, &call->responder_,
                                            gate->cq(), call);
    });
    if (!posted) delete call;
  }

  void Proceed(bool ok) override {
    if (finishing_) {
      End(code_);
      return;
    }
    if (!ok) {  // the server is shutting down; no call arrived
      delete this;
      return;
    }
    Post(method_, gate_);
    info().metrics->Started();
    ctx_.emplace(info(), server_context_, absl::Now());
    if (!internal::Dispatch(info(), [this] { Run(); })) Finish(internal::OverloadedStatus());
  }

 private:
  UnaryCall(const Method* method, CompletionQueueGate* gate)
      : method_(method), gate_(gate), responder_(&server_context_) {}

  const MethodInfo& info() const { return method_->binding.info; }

  void Run() {
    Resp response;
    grpc::Status status = internal::Guarded(info(), [this, &response] {
      Req request;
      governance::Admission admission;  // held until the answer is built
      grpc::Status s = internal::AdmitAndParse(*ctx_, &request_buffer_, &request,
                                               method_->target, &admission);
      if (!s.ok()) return s;
      ctx_->set_admission(&admission);
      s = method_->handler(*ctx_, request, &response);
      ctx_->set_admission(nullptr);
      if (!s.ok()) return s;
      internal::RedactAnswer(method_->target, request, &response, admission.redactor);
      return internal::SerializeMessage(response, &response_buffer_);
    });
    Finish(status);
  }

  void Finish(const grpc::Status& status) {
    finishing_ = true;
    code_ = status.error_code();
    const bool posted = gate_->Post([this, &status] {
      if (status.ok()) {
        responder_.Finish(response_buffer_, status, this);
      } else {
        responder_.FinishWithError(status, this);
      }
    });
    if (!posted) End(grpc::StatusCode::CANCELLED);
  }

  void End(grpc::StatusCode code) {
    info().metrics->Finished(code, absl::Now() - ctx_->started());
    delete this;
  }

  const Method* const method_;
  CompletionQueueGate* const gate_;
  grpc::ServerContext server_context_;
  grpc::ByteBuffer request_buffer_;
  grpc::ByteBuffer response_buffer_;
  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> responder_;
  std::optional<CallContext> ctx_;
  bool finishing_ = false;
  grpc::StatusCode code_ = grpc::StatusCode::OK;
};

// Shared by the two streaming kinds: the deadline alarm and the two-reference lifetime.
class StreamingCallBase : public CallTag, public internal::Releasable {
 public:
  static constexpr absl::Duration kStalledStreamGrace = absl::Seconds(1);

  void Release() override {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 protected:
  StreamingCallBase(const MethodBinding& binding, CompletionQueueGate* gate)
      : binding_(binding), gate_(gate), alarm_(&server_context_, this) {}

  const MethodInfo& info() const { return binding_.info; }

  // Records arrival and arms the deadline alarm. Call once, when the request has arrived.
  void Begin() {
    info().metrics->Started();
    ctx_.emplace(info(), server_context_, absl::Now());
    refs_.fetch_add(1, std::memory_order_relaxed);
    // A stream that keeps moving meets its deadline in its own steps (DEADLINE_EXCEEDED); the
    // alarm, a little later, is for one stalled on its client, which it cancels.
    if (!alarm_.Arm(gate_, ctx_->deadline() + kStalledStreamGrace)) Release();
  }

  // The call is over (answered, or dead): record it, stop the alarm, drop the chain's reference.
  void End(grpc::StatusCode code) {
    info().metrics->Finished(code, absl::Now() - ctx_->started());
    alarm_.Disarm();
    Release();
  }

  const MethodBinding& binding_;
  CompletionQueueGate* const gate_;
  grpc::ServerContext server_context_;
  std::optional<CallContext> ctx_;
  grpc::StatusCode code_ = grpc::StatusCode::OK;

 private:
  internal::DeadlineAlarm alarm_;
  std::atomic<int> refs_{1};  // the operation chain, plus the alarm while armed
};

template <class Req, class Resp>
struct ServerStreamMethod {
  MethodBinding binding;
  Target<Req> target;
  ServerStreamHandler<Req, Resp> handler;
};

template <class Req, class Resp>
class ServerStreamCall final : public StreamingCallBase {
 public:
  using Method = ServerStreamMethod<Req, Resp>;

  static void Post(const Method* method, CompletionQueueGate* gate) {
    if (!method->binding.info.runtime->accepting.load(std::memory_order_acquire)) return;
    auto* call = new ServerStreamCall(method, gate);
    const bool posted = gate->Post([call, method, gate] {
      method->binding.service->RequestServerStream(method->binding.index, &call->server_context_,
                                                   &call->request_buffer_, &call->writer_,
                                                   gate->cq(), call);
    });
    if (!posted) delete call;
  }

  void Proceed(bool ok) override {
    switch (state_) {
      case State::kWaitingForRequest:
        if (!ok) {
          delete this;
          return;
        }
        Post(method_, gate_);
        Begin();
        if (!internal::Dispatch(info(), [this] { Start(); })) {
          Finish(internal::OverloadedStatus());
        }
        return;
      case State::kWriting:
        if (!ok) {  // the client went away, or the deadline alarm cancelled the call
          Abandon();
          return;
        }
        if (!ahead_.empty()) {
          WriteNext();  // produced already: no hop to the pool for it
        } else if (source_done_) {
          Finish(end_status_);
        } else {
          internal::Continue(info(), [this] { Pump(); });
        }
        return;
      case State::kFinishing:
        End(code_);
        return;
    }
  }

 private:
  enum class State { kWaitingForRequest, kWriting, kFinishing };

  ServerStreamCall(const Method* method, CompletionQueueGate* gate)
      : StreamingCallBase(method->binding, gate), method_(method), writer_(&server_context_) {}

  void Start() {
    grpc::Status status = internal::Guarded(info(), [this] {
      grpc::Status s = internal::AdmitAndParse(*ctx_, &request_buffer_, &request_,
                                               method_->target, &admission_);
      if (!s.ok()) return s;
      return method_->handler(*ctx_, request_, &source_);
    });
    if (!status.ok() || source_ == nullptr) {
      Finish(status);
      return;
    }
    Pump();
  }

  // Produces the next messages, up to kAheadMessages or kAheadBytes, and writes the first; or
  // finishes the stream. Producing ahead means a stream on the worker pool pays one hop to the
  // pool per batch of messages, not per message (a hop per row had made a KV Scan on the pool
  // slower than one on the completion-queue thread); the completion-queue thread writes the
  // rest as writes complete. A source's error is answered after the messages before it.
  void Pump() {
    if (ctx_->Expired()) {
      Finish(ctx_->DeadlineExceededStatus());
      return;
    }
    size_t bytes = 0;
    while (ahead_.size() < kAheadMessages && bytes < kAheadBytes) {
      if (!ahead_.empty() && ctx_->Expired()) {  // a slow source: what is ready goes, then the end
        source_done_ = true;
        end_status_ = ctx_->DeadlineExceededStatus();
        source_.reset();
        break;
      }
      bool has_message = false;
      grpc::ByteBuffer buffer;
      grpc::Status status = internal::Guarded(info(), [this, &buffer, &has_message] {
        Resp response;
        grpc::Status s = source_->Next(*ctx_, &response, &has_message);
        if (!s.ok() || !has_message) return s;
        internal::RedactAnswer(method_->target, request_, &response, admission_.redactor);
        return internal::SerializeMessage(response, &buffer);
      });
      if (!status.ok() || !has_message) {
        source_done_ = true;
        end_status_ = status;
        source_.reset();  // release snapshots and iterators now
        break;
      }
      bytes += buffer.Length();
      ahead_.push_back(std::move(buffer));
    }
    if (ahead_.empty()) {
      Finish(end_status_);
      return;
    }
    WriteNext();
  }

  void WriteNext() {
    write_buffer_ = std::move(ahead_.front());
    ahead_.pop_front();
    state_ = State::kWriting;
    if (!gate_->Post([this] { writer_.Write(write_buffer_, this); })) Abandon();
  }

  void Finish(const grpc::Status& status) {
    source_.reset();  // release snapshots and iterators before the answer goes out
    state_ = State::kFinishing;
    code_ = status.error_code();
    if (!gate_->Post([this, &status] { writer_.Finish(status, this); })) {
      End(grpc::StatusCode::CANCELLED);
    }
  }

  void Abandon() {
    source_.reset();
    End(grpc::StatusCode::CANCELLED);
  }

  // Produced ahead of the writes (see Pump): at most this many messages, and past this many
  // bytes no more (a single larger message still goes).
  static constexpr size_t kAheadMessages = 64;
  static constexpr size_t kAheadBytes = 256 * 1024;

  const Method* const method_;
  grpc::ByteBuffer request_buffer_;
  Req request_;                     // kept for the stream's answers (redaction)
  // Held for the call's life, until the client has taken the last message (not only until the
  // source is done): a DeleteNamespace waits for the stream. Its answers are redacted as
  // admission found.
  governance::Admission admission_;
  grpc::ByteBuffer write_buffer_;
  grpc::ServerAsyncWriter<grpc::ByteBuffer> writer_;
  std::unique_ptr<StreamSource<Resp>> source_;
  std::deque<grpc::ByteBuffer> ahead_;  // serialized, in order, waiting for their writes
  bool source_done_ = false;            // the source ended (end_status_) or failed
  grpc::Status end_status_;             // the stream's answer once ahead_ is written
  State state_ = State::kWaitingForRequest;
};

template <class Req, class Resp>
struct ClientStreamMethod {
  MethodBinding binding;
  Target<Req> target;
  ClientStreamHandler<Req, Resp> handler;
};

// Namespaces and keys in a client stream arrive with its messages: each message passes the
// governance step (the method's Target) before the sink sees it, and a message that does not
// parse ends the call with INVALID_ARGUMENT. When the client cancels, the messages the sink has
// already accepted stay applied (as with any cancelled call, the outcome is unknown to the
// client).
template <class Req, class Resp>
class ClientStreamCall final : public StreamingCallBase {
 public:
  using Method = ClientStreamMethod<Req, Resp>;

  static void Post(const Method* method, CompletionQueueGate* gate) {
    if (!method->binding.info.runtime->accepting.load(std::memory_order_acquire)) return;
    auto* call = new ClientStreamCall(method, gate);
    const bool posted = gate->Post([call, method, gate] {
      method->binding.service->RequestClientStream(method->binding.index, &call->server_context_,
                                                   &call->reader_, gate->cq(), call);
    });
    if (!posted) delete call;
  }

  void Proceed(bool ok) override {
    switch (state_) {
      case State::kWaitingForRequest:
        if (!ok) {
          delete this;
          return;
        }
        Post(method_, gate_);
        Begin();
        if (!internal::Dispatch(info(), [this] { Start(); })) {
          Finish(internal::OverloadedStatus());
        }
        return;
      case State::kReading:
        if (ok) {
          internal::Continue(info(), [this] { Consume(); });
        } else if (ctx_->Expired()) {
          // The deadline alarm cancelled the call: nothing more is applied.
          Finish(ctx_->DeadlineExceededStatus());
        } else {
          // The client half-closed: answer with what was received.
          internal::Continue(info(), [this] { Complete(); });
        }
        return;
      case State::kFinishing:
        End(code_);
        return;
    }
  }

 private:
  enum class State { kWaitingForRequest, kReading, kFinishing };

  ClientStreamCall(const Method* method, CompletionQueueGate* gate)
      : StreamingCallBase(method->binding, gate), method_(method), reader_(&server_context_) {}

  void Start() {
    grpc::Status status = internal::Guarded(info(), [this] {
      grpc::Status s = internal::AdmitCaller(*ctx_);
      if (!s.ok()) return s;
      s = ctx_->CheckDeadline();
      if (!s.ok()) return s;
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
    read_buffer_.Clear();
    state_ = State::kReading;
    if (!gate_->Post([this] { reader_.Read(&read_buffer_, this); })) Abandon();
  }

  void Consume() {
    if (ctx_->Expired()) {
      Finish(ctx_->DeadlineExceededStatus());
      return;
    }
    ++received_;
    grpc::Status status = internal::Guarded(info(), [this] {
      Req message;
      grpc::Status s = internal::ParseMessage(&read_buffer_, &message, received_);
      if (!s.ok()) return s;
      if (method_->target.carry) method_->target.carry(&message, &stream_);
      governance::Admission admission;  // this message's, until the sink has applied it
      s = internal::AdmitRequest(*ctx_, message, method_->target, &admission);
      if (!s.ok()) return s;
      return sink_->OnMessage(*ctx_, message);
    });
    if (!status.ok()) {
      Finish(status);
      return;
    }
    if (sink_->StopReading()) {
      Complete();
      return;
    }
    Read();
  }

  void Complete() {
    Resp response;
    grpc::Status status = internal::Guarded(info(), [this, &response] {
      grpc::Status s = sink_->Finish(*ctx_, &response);
      if (!s.ok()) return s;
      return internal::SerializeMessage(response, &response_buffer_);
    });
    Finish(status);
  }

  void Finish(const grpc::Status& status) {
    sink_.reset();
    state_ = State::kFinishing;
    code_ = status.error_code();
    const bool posted = gate_->Post([this, &status] {
      if (status.ok()) {
        reader_.Finish(response_buffer_, status, this);
      } else {
        reader_.FinishWithError(status, this);
      }
    });
    if (!posted) End(grpc::StatusCode::CANCELLED);
  }

  void Abandon() {
    sink_.reset();
    End(grpc::StatusCode::CANCELLED);
  }

  const Method* const method_;
  grpc::ByteBuffer read_buffer_;
  grpc::ByteBuffer response_buffer_;
  grpc::ServerAsyncReader<grpc::ByteBuffer, grpc::ByteBuffer> reader_;
  std::unique_ptr<StreamSink<Req, Resp>> sink_;
  State state_ = State::kWaitingForRequest;
  int received_ = 0;
  Req stream_;  // what the method's Target.carry keeps across messages
};

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_CALLS_H_
