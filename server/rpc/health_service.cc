#include "server/rpc/health_service.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/async_unary_call.h"

namespace sochdb::server {

namespace health = grpc::health::v1;

namespace {

// Longer than any service name (sochdb's longest is 40 bytes). The name is echoed in Check's
// NOT_FOUND and kept by a Watch for as long as it is open: unbounded, a 60 MB name came back
// as a 60 MB status message, and each idle watcher held one.
constexpr size_t kMaxServiceNameBytes = 256;

grpc::Status CheckServiceName(const std::string& service) {
  if (service.size() <= kMaxServiceNameBytes) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("HealthCheckRequest.service is ", service.size(),
                                   " bytes; the limit is ", kMaxServiceNameBytes));
}

}  // namespace

// One Check: answered on the poller thread as soon as it arrives.
class HealthService::CheckCall final : public CallTag {
 public:
  static void Post(HealthService* health, CompletionQueueGate* gate) {
    auto* call = new CheckCall(health, gate);
    const bool posted = gate->Post([call, health, gate] {
      health->service_.RequestCheck(&call->context_, &call->request_, &call->responder_, gate->cq(),
                                    gate->cq(), call);
    });
    if (!posted) delete call;
  }

  void Proceed(bool ok) override {
    if (answered_ || !ok) {  // the answer went out, or the server shut down before a call came
      delete this;
      return;
    }
    Post(health_, gate_);
    answered_ = true;
    health::HealthCheckResponse response;
    grpc::Status status = CheckServiceName(request_.service());
    if (status.ok()) {
      const ServingStatus serving = health_->StatusOf(request_.service());
      if (serving == health::HealthCheckResponse::SERVICE_UNKNOWN) {
        status =
            grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service: " + request_.service());
      } else {
        response.set_status(serving);
      }
    }
    const bool posted = gate_->Post([this, &response, &status] {
      if (status.ok()) {
        responder_.Finish(response, status, this);
      } else {
        responder_.FinishWithError(status, this);
      }
    });
    if (!posted) delete this;
  }

 private:
  CheckCall(HealthService* health, CompletionQueueGate* gate)
      : health_(health), gate_(gate), responder_(&context_) {}

  HealthService* const health_;
  CompletionQueueGate* const gate_;
  grpc::ServerContext context_;
  health::HealthCheckRequest request_;
  grpc::ServerAsyncResponseWriter<health::HealthCheckResponse> responder_;
  bool answered_ = false;
};

// One Watch. Between changes it has no operation pending. Three parties move it: its own
// operations (the request's arrival, a write or the finish completing) on the poller thread,
// gRPC's "done" notification (the client went away, or the call ended) on the same queue, and
// NotifyWatches from whichever thread changed the status. Step() decides the next operation
// under `mu_`; at most one is outstanding. The call is freed once its operations are over (End)
// and the done notification has come back: two references.
class HealthService::WatchCall final : public CallTag {
 public:
  enum class Action { kNone, kEnd };

  static void Post(HealthService* health, CompletionQueueGate* gate) {
    auto* call = new WatchCall(health, gate);
    // Before the request: gRPC delivers the done tag only for a call that arrived.
    call->context_.AsyncNotifyWhenDone(&call->done_);
    const bool posted = gate->Post([call, health, gate] {
      health->service_.RequestWatch(&call->context_, &call->request_, &call->writer_, gate->cq(),
                                    gate->cq(), call);
    });
    if (!posted) delete call;
  }

  void Proceed(bool ok) override {
    if (!arrived_) {
      Arrive(ok);
      return;
    }
    Action action;
    {
      absl::MutexLock lock(&mu_);
      busy_ = false;
      if (finishing_ || !ok) over_ = true;  // finished, or a write failed: the client is gone
      action = Step();
    }
    if (action == Action::kEnd) End();
  }

  // The status may have changed, or watches are ending. Under the service's lock, so it must
  // not end the call itself: kEnd asks the caller to call End() after releasing that lock.
  Action Notify() {
    absl::MutexLock lock(&mu_);
    return Step();
  }

  // The call's last step: no operation of it is outstanding any more.
  void End() {
    health_->RemoveWatch(this, peer_);
    Release();
  }

 private:
  class DoneTag final : public CallTag {
   public:
    explicit DoneTag(WatchCall* call) : call_(call) {}
    void Proceed(bool) override { call_->Done(); }

   private:
    WatchCall* const call_;
  };

  WatchCall(HealthService* health, CompletionQueueGate* gate)
      : health_(health), gate_(gate), writer_(&context_), done_(this) {}

  void Arrive(bool ok) {
    if (!ok) {  // the server shut down before a call came; no done tag will follow
      delete this;
      return;
    }
    arrived_ = true;
    refs_.fetch_add(1, std::memory_order_relaxed);  // for the done tag
    Post(health_, gate_);
    peer_ = context_.peer();
    const grpc::Status admitted = Admit();
    Action action = Action::kNone;
    {
      absl::MutexLock lock(&mu_);
      if (admitted.ok()) {
        action = Step();
      } else {
        StartFinish(admitted);
        if (!busy_) action = Abandon();
      }
    }
    if (action == Action::kEnd) End();
  }

  // OK once the watch is registered; otherwise the status that ends it at once.
  grpc::Status Admit() {
    if (grpc::Status name = CheckServiceName(request_.service()); !name.ok()) return name;
    return health_->AddWatch(this, peer_);
  }

  void Done() {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      over_ = true;
      action = Step();
    }
    if (action == Action::kEnd) End();
    Release();
  }

  // Starts the next operation, if one is due and none is outstanding.
  Action Step() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (busy_ || ended_) return Action::kNone;
    if (over_) {
      ended_ = true;
      return Action::kEnd;
    }
    const ServingStatus status = health_->StatusOf(request_.service());
    if (status != sent_) {
      response_.set_status(status);
      sent_ = status;
      busy_ = true;
      // Post runs the lambda before it returns, under mu_; gRPC reads the response until the
      // write completes, and busy_ keeps it unchanged until then.
      const health::HealthCheckResponse* response = &response_;
      if (!gate_->Post([this, response] { writer_.Write(*response, this); })) return Abandon();
      return Action::kNone;
    }
    if (health_->watches_ended_.load(std::memory_order_acquire)) {
      // The protocol asks clients to watch again after any end other than UNIMPLEMENTED.
      StartFinish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
      if (!busy_) return Abandon();
    }
    return Action::kNone;
  }

  void StartFinish(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    busy_ = true;
    finishing_ = true;
    if (!gate_->Post([this, &status] { writer_.Finish(status, this); })) busy_ = false;
  }

  // The queue is closing: no operation can start, so the call ends here.
  Action Abandon() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    busy_ = false;
    over_ = true;
    ended_ = true;
    return Action::kEnd;
  }

  void Release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  HealthService* const health_;
  CompletionQueueGate* const gate_;
  grpc::ServerContext context_;
  health::HealthCheckRequest request_;
  grpc::ServerAsyncWriter<health::HealthCheckResponse> writer_;
  DoneTag done_;
  bool arrived_ = false;      // only the poller thread touches it, before anyone else can
  std::string peer_;  // set on arrival, before the service lists the call; then read-only
  std::atomic<int> refs_{1};  // the operations; plus the done tag once the call arrived
  absl::Mutex mu_;
  health::HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);  // being written
  std::optional<ServingStatus> sent_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;       // a write or the finish is outstanding
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;  // the finish has been started
  bool over_ ABSL_GUARDED_BY(mu_) = false;       // the call is done; nothing more to send
  bool ended_ ABSL_GUARDED_BY(mu_) = false;      // Step has asked for End, once
};

HealthService::HealthService(const std::vector<std::string>& services, size_t max_watches,
                             size_t max_watches_per_connection)
    : services_(services.begin(), services.end()),
      max_watches_(max_watches),
      max_watches_per_connection_(max_watches_per_connection) {}

HealthService::~HealthService() = default;

void HealthService::Post(CompletionQueueGate* gate, int calls) {
  for (int i = 0; i < calls; ++i) {
    CheckCall::Post(this, gate);
    WatchCall::Post(this, gate);
  }
}

void HealthService::SetServing(bool serving) {
  if (serving_.exchange(serving, std::memory_order_acq_rel) != serving) NotifyWatches();
}

void HealthService::EndWatches() {
  watches_ended_.store(true, std::memory_order_release);
  NotifyWatches();
}

size_t HealthService::watches() const {
  absl::MutexLock lock(&mu_);
  return watches_.size();
}

HealthService::ServingStatus HealthService::StatusOf(const std::string& service) const {
  if (!service.empty() && !services_.contains(service)) {
    return health::HealthCheckResponse::SERVICE_UNKNOWN;
  }
  return serving_.load(std::memory_order_acquire) ? health::HealthCheckResponse::SERVING
                                                  : health::HealthCheckResponse::NOT_SERVING;
}

grpc::Status HealthService::AddWatch(WatchCall* watch, const std::string& peer) {
  absl::MutexLock lock(&mu_);
  if (watches_.size() >= max_watches_) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("too many health watches: the limit is ", max_watches_,
                                     " open at once; use Check, or watch again later"));
  }
  const auto from_peer = watches_by_peer_.find(peer);
  if (from_peer != watches_by_peer_.end() && from_peer->second >= max_watches_per_connection_) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("too many health watches on this connection: the limit is ",
                     max_watches_per_connection_, " per connection; use Check, or end a watch"));
  }
  ++watches_by_peer_[peer];
  watches_.insert(watch);
  return grpc::Status::OK;
}

void HealthService::RemoveWatch(WatchCall* watch, const std::string& peer) {
  absl::MutexLock lock(&mu_);
  if (watches_.erase(watch) == 0) return;  // refused: never counted
  const auto it = watches_by_peer_.find(peer);
  if (it != watches_by_peer_.end() && --it->second == 0) watches_by_peer_.erase(it);
}

void HealthService::NotifyWatches() {
  std::vector<WatchCall*> ended;
  {
    absl::MutexLock lock(&mu_);
    for (WatchCall* watch : watches_) {
      if (watch->Notify() == WatchCall::Action::kEnd) ended.push_back(watch);
    }
  }
  // Still registered, so still alive: only End() releases them, and only one Step asks for it.
  for (WatchCall* watch : ended) watch->End();
}

}  // namespace sochdb::server
