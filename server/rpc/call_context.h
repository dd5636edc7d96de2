// What a handler sees of a call, and how a method declares its rules. Handlers are plain functions
//   (CallContext&, const Req&, Resp*) -> grpc::Status
// and never touch completion queues or tags (server/rpc/calls.h does). Before a handler runs, the
// call layer has authenticated the caller, checked the method's capability and, for namespaced
// methods, the request's namespace; so handlers repeat none of it.
#ifndef SOCHDB_SERVER_RPC_CALL_CONTEXT_H_
#define SOCHDB_SERVER_RPC_CALL_CONTEXT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/auth/auth.h"
#include "engine/common/answer_budget.h"
#include "engine/governance/governance.h"
#include "engine/policy/policy.h"
#include "google/protobuf/message.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace sochdb::server {

class MethodMetrics;
class WorkerPool;

// The setting that sets ServerRuntime::max_response_bytes, as answer-budget errors name it
// (the engine's AnswerBudget takes it from its caller: the engine knows no flags).
inline constexpr char kResponseBudgetSetting[] = "--max-response-mb";

// Where a method's handler runs.
enum class Execution {
  kInline,      // on the completion-queue poller: short, non-blocking work
  kWorkerPool,  // on the bounded worker pool: short work that may block (a synced write)
  // On the worker pool's long lane: work that may take seconds (searches of many queries,
  // batches, builds, scans). It never holds every worker, so kWorkerPool calls do not queue
  // behind it (see WorkerPool).
  kLongWork,
};

// Process-wide services the call layer needs. Owned by GrpcServer; outlives every call.
struct ServerRuntime {
  const auth::Authorizer* authorizer = nullptr;
  // The step data calls pass before their handler (never null once the server is built).
  const governance::Governance* governance = nullptr;
  WorkerPool* pool = nullptr;
  // The longest any call may run, whatever deadline the client sent (or none).
  absl::Duration max_call_duration = absl::Minutes(5);
  // The largest answer a handler builds (see engine/common/answer_budget.h).
  size_t max_response_bytes = 48u << 20;
  // False once shutdown has begun: arriving calls no longer post replacements.
  std::atomic<bool> accepting{true};
};

// One registered method: its names, its rules and its metrics. Immutable after registration.
struct MethodInfo {
  std::string service;  // full name, "sochdb.v1.KvService"
  std::string method;   // "Get"
  // What policies call the service (their `service` variable): "kv", "collection", ...
  std::string policy_service;
  auth::Capability capability = auth::Capability::kAdmin;
  Execution execution = Execution::kInline;
  MethodMetrics* metrics = nullptr;
  const ServerRuntime* runtime = nullptr;
};

// The keys a request touches, as policies see them (governance::KeyList): a field of the
// request (one key), or a function that lists them (several keys, composed keys, prefixes).
template <class Req>
class KeysOf {
 public:
  using Fn = std::function<void(const Req&, governance::KeyList*)>;

  KeysOf(const std::string& (Req::*field)() const)  // NOLINT: implicit on purpose
      : fn_([field](const Req& request, governance::KeyList* keys) {
          keys->Add((request.*field)());
        }) {}
  template <class F,
            std::enable_if_t<std::is_invocable_v<F, const Req&, governance::KeyList*>, int> = 0>
  KeysOf(F fn) : fn_(std::move(fn)) {}  // NOLINT: implicit on purpose

  Fn release() && { return std::move(fn_); }

 private:
  Fn fn_;
};

// Rewrites a read's answer (`response`, the method's response type) where redacting rules apply:
// calls redactor.Apply(key, &value) on each value it returns (governance::Redactor).
template <class Req>
using AnswerRedaction = std::function<void(const Req& request, google::protobuf::Message* response,
                                           const governance::Redactor& redactor)>;

// One of several namespaces a request works in (a context query's sections, each of which may
// read or write its own namespace). The call layer admits each through the governance step, as
// if it were a request of its own, all before the handler runs; the first refusal fails the
// call. The handler finds each scope's admission (its redactor) through
// CallContext::admission(): the first scope's is that admission, the others' its `scopes`.
struct Scope {
  std::string ns;
  // The `service` policy conditions see; empty: the method's (MethodInfo::policy_service).
  std::string service;
  policy::Access access = policy::Access::kRead;
  std::vector<std::string> keys;
  std::vector<std::string> prefixes;
  // A capability the scope needs beyond the method's (a write inside a read method).
  std::optional<auth::Capability> capability;
};

// Lists a request's scopes (see Scope); a distinct type, so a registration reads as what it is.
template <class Req>
struct ScopesOf {
  std::function<void(const Req&, std::vector<Scope>*)> fn;
};

// What a request touches, for the governance step every data operation passes before its
// handler runs (engine/governance/governance.h).
template <class Req>
struct Target {
  // The request's namespace, held to the namespace rule; nullptr for objects that are not
  // namespaced (tenant-scoped or global).
  std::function<std::string_view(const Req&)> namespace_of;
  // What the request does to its keys; none: no policy applies (namespace management).
  std::optional<policy::Access> access;
  std::function<void(const Req&, governance::KeyList*)> keys_of;
  // For reads whose answers carry values: how to redact them; nullptr: nothing to redact.
  AnswerRedaction<Req> redact;
  // For client streams whose later messages may leave out what an earlier one said (the index
  // of an InsertStream): fills `*message` in from `*stream`, state the call keeps for the
  // stream's life, before the message is governed, so policies see every message's real keys.
  std::function<void(Req* message, Req* stream)> carry;
  // For requests that work in several namespaces: their scopes, admitted one by one (the
  // fields above are then unset).
  std::function<void(const Req&, std::vector<Scope>*)> scopes_of;

  bool governed() const {
    return namespace_of != nullptr || access.has_value() || scopes_of != nullptr;
  }
};

// The rules a method is registered with. The capability has no default on purpose: a method
// cannot be registered without saying who may call it. A data method also says what it does
// and to which keys, so the governance step can hold it to the tenant's policies:
//   {Capability::kRead, Access::kRead, &KvGetRequest::namespace_, &KvGetRequest::key}
template <class Req>
struct MethodPolicy {
  // A method that only needs the namespace rule (or nothing: `namespace_field` nullptr).
  MethodPolicy(auth::Capability required,
               std::function<std::string_view(const Req&)> namespace_field = nullptr,
               Execution where = Execution::kInline)
      : capability(required),
        target{std::move(namespace_field), std::nullopt, nullptr, nullptr, nullptr, nullptr},
        execution(where) {}
  // A data method: `access` to the keys `keys` lists, in the namespace `namespace_field` names
  // (nullptr: an object of the caller's tenant).
  MethodPolicy(auth::Capability required, policy::Access access,
               std::function<std::string_view(const Req&)> namespace_field, KeysOf<Req> keys,
               Execution where = Execution::kInline, AnswerRedaction<Req> redact = nullptr)
      : capability(required),
        target{std::move(namespace_field), access, std::move(keys).release(), std::move(redact),
               nullptr, nullptr},
        execution(where) {}

  // A data method working in several namespaces (see Scope).
  MethodPolicy(auth::Capability required, ScopesOf<Req> scopes,
               Execution where = Execution::kInline)
      : capability(required),
        target{nullptr, std::nullopt, nullptr, nullptr, nullptr, std::move(scopes.fn)},
        execution(where) {}

  auth::Capability capability;
  Target<Req> target;
  Execution execution;
};

class CallContext {
 public:
  CallContext(const MethodInfo& method, grpc::ServerContext& server_context, absl::Time started);

  const MethodInfo& method() const { return method_; }
  // Valid once the call layer has authenticated the caller, i.e. whenever a handler runs.
  const auth::Principal& principal() const { return *principal_; }
  absl::Time started() const { return started_; }
  // The earlier of the client's deadline and started() + the server's maximum call duration.
  absl::Time deadline() const { return deadline_; }
  bool Expired() const { return absl::Now() >= deadline_; }
  // OK while the call has time; once deadline() has passed, DEADLINE_EXCEEDED with the text the
  // call layer uses (naming --max-call-s when the server's limit was the earlier one). For
  // handlers that loop over many items, to stop with an honest status rather than a partial
  // answer.
  grpc::Status CheckDeadline() const;
  // That DEADLINE_EXCEEDED status, for a caller that has seen Expired().
  grpc::Status DeadlineExceededStatus() const;
  // The most bytes this call's answer may take (set by kResponseBudgetSetting).
  size_t response_budget_bytes() const { return method_.runtime->max_response_bytes; }
  // A budget of response_budget_bytes() for this call's answer, whose error names the setting.
  AnswerBudget ResponseBudget(std::string_view what, std::string_view hint) const {
    return AnswerBudget(response_budget_bytes(), kResponseBudgetSetting, what, hint);
  }
  std::string peer() const { return server_context_.peer(); }

  // The namespace rule alone, for handlers that list what a caller may see. PERMISSION_DENIED
  // with the standard text when refused.
  grpc::Status CheckNamespace(std::string_view ns) const;

  // Runs the governance step for `op` (the call layer does, from the method's Target); what the
  // operation holds until it ends goes in `*admission` (governance::Admission).
  grpc::Status Admit(const governance::Operation& op,
                     governance::Admission* admission = nullptr) const;
  // Admits each of `scopes` (see Scope) in order; their admissions go in `*admission` (the
  // first) and admission->scopes (the others).
  grpc::Status AdmitScopes(const std::vector<Scope>& scopes,
                           governance::Admission* admission) const;
  // What the governance step admitted this call with, for a handler that must apply it itself
  // (a context query redacting the KV values it renders); nullptr when it was not governed.
  // Valid while the handler runs.
  const governance::Admission* admission() const { return admission_; }
  void set_admission(const governance::Admission* admission) { admission_ = admission; }

  // The caller's context entries for policy conditions: request headers
  // "x-sochdb-context-<name>: <value>" (names arrive lower-case, as gRPC metadata keys are).
  // INVALID_ARGUMENT for an entry that breaks governance::ValidateCallerContext.
  absl::StatusOr<governance::CallerContext> PolicyContext() const;

  // Authenticates the caller from the request metadata and checks the method's capability.
  // Run by the call layer once per call, before anything else (even before the request is
  // parsed: an unauthenticated caller learns nothing about its request).
  grpc::Status Authorize();

  // True when the client's own deadline comes before the server's maximum call duration.
  bool ClientDeadlineIsEarlier() const {
    return client_deadline_ < started_ + method_.runtime->max_call_duration;
  }

 private:
  const MethodInfo& method_;
  grpc::ServerContext& server_context_;
  const absl::Time started_;
  const absl::Time client_deadline_;
  const absl::Time deadline_;
  std::shared_ptr<const auth::Principal> principal_;
  const governance::Admission* admission_ = nullptr;
};

// What a server-streaming handler returns: the call layer pulls one message at a time, writing
// each before asking for the next, so a slow client holds back the source instead of
// buffering the whole answer in memory.
template <class Resp>
class StreamSource {
 public:
  virtual ~StreamSource() = default;
  // Fills `*out` and sets `*has_message`, or leaves it false when the stream is complete.
  // A non-OK status ends the call with that status.
  virtual grpc::Status Next(CallContext& ctx, Resp* out, bool* has_message) = 0;
};

// What a client-streaming handler returns: fed each message as it arrives, then asked for the
// response once the client has half-closed.
template <class Req, class Resp>
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // A non-OK status ends the call with that status; no further messages are read.
  virtual grpc::Status OnMessage(CallContext& ctx, const Req& message) = 0;
  // True to stop reading and answer now (Finish), e.g. when later messages cannot succeed.
  virtual bool StopReading() const { return false; }
  virtual grpc::Status Finish(CallContext& ctx, Resp* response) = 0;
};

template <class Req, class Resp>
using UnaryHandler = std::function<grpc::Status(CallContext&, const Req&, Resp*)>;

template <class Req, class Resp>
using ServerStreamHandler =
    std::function<grpc::Status(CallContext&, const Req&, std::unique_ptr<StreamSource<Resp>>*)>;

template <class Req, class Resp>
using ClientStreamHandler =
    std::function<grpc::Status(CallContext&, std::unique_ptr<StreamSink<Req, Resp>>*)>;

// Adapts a member function to a handler: r.Unary(..., BindHandler(this, &KvService::Get)).
template <class T, class R, class... Args>
auto BindHandler(T* self, R (T::*fn)(Args...)) {
  return [self, fn](Args... args) -> R { return (self->*fn)(std::forward<Args>(args)...); };
}

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_CALL_CONTEXT_H_
