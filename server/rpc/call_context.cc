#include "server/rpc/call_context.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "server/rpc/status.h"

namespace sochdb::server {

namespace {

absl::Time ClientDeadline(const grpc::ServerContext& server_context) {
  const auto client = server_context.deadline();
  if (client == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(client);
}

std::optional<std::string_view> Metadata(const grpc::ServerContext& server_context,
                                         std::string_view name) {
  const auto& metadata = server_context.client_metadata();
  auto it = metadata.find(grpc::string_ref(name.data(), name.size()));
  if (it == metadata.end()) return std::nullopt;
  return std::string_view(it->second.data(), it->second.size());
}

}  // namespace

CallContext::CallContext(const MethodInfo& method, grpc::ServerContext& server_context,
                         absl::Time started)
    : method_(method),
      server_context_(server_context),
      started_(started),
      client_deadline_(ClientDeadline(server_context)),
      deadline_(std::min(client_deadline_, started + method.runtime->max_call_duration)) {}

grpc::Status CallContext::Authorize() {
  const auth::Authorizer& authorizer = *method_.runtime->authorizer;
  absl::StatusOr<std::shared_ptr<const auth::Principal>> principal = authorizer.Authenticate(
      Metadata(server_context_, "authorization"), Metadata(server_context_, "x-api-key"));
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  principal_ = *std::move(principal);
  return ToGrpcStatus(auth::Authorizer::CheckCapability(*principal_, method_.capability));
}

grpc::Status CallContext::CheckDeadline() const {
  return Expired() ? DeadlineExceededStatus() : grpc::Status::OK;
}

grpc::Status CallContext::DeadlineExceededStatus() const {
  if (ClientDeadlineIsEarlier()) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline exceeded");
  }
  return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                      absl::StrCat("deadline exceeded: the server allows at most ",
                                   absl::FormatDuration(method_.runtime->max_call_duration),
                                   " per call (--max-call-s)"));
}

grpc::Status CallContext::CheckNamespace(std::string_view ns) const {
  return ToGrpcStatus(auth::Authorizer::CheckNamespace(*principal_, ns));
}

grpc::Status CallContext::Admit(const governance::Operation& op,
                                governance::Admission* admission) const {
  return ToGrpcStatus(method_.runtime->governance->Admit(op, admission));
}

grpc::Status CallContext::AdmitScopes(const std::vector<Scope>& scopes,
                                      governance::Admission* admission) const {
  const auto context = [this] { return PolicyContext(); };
  for (size_t i = 0; i < scopes.size(); ++i) {
    const Scope& scope = scopes[i];
    if (scope.capability.has_value()) {
      grpc::Status allowed =
          ToGrpcStatus(auth::Authorizer::CheckCapability(*principal_, *scope.capability));
      if (!allowed.ok()) return allowed;
    }
    const auto keys = [&scope](governance::KeyList* list) {
      for (const std::string& key : scope.keys) list->Add(key);
      for (const std::string& prefix : scope.prefixes) list->AddPrefix(prefix);
    };
    const std::string_view service =
        scope.service.empty() ? std::string_view(method_.policy_service) : scope.service;
    const governance::Operation op{principal_.get(), service, method_.method, scope.access,
                                   scope.ns, keys, context};
    governance::Admission* held = admission;
    if (held != nullptr && i > 0) held = &admission->scopes.emplace_back();
    grpc::Status s = Admit(op, held);
    if (!s.ok()) return s;
  }
  return grpc::Status::OK;
}

absl::StatusOr<governance::CallerContext> CallContext::PolicyContext() const {
  constexpr std::string_view kPrefix = "x-sochdb-context-";
  governance::CallerContext context;
  for (const auto& [key, value] : server_context_.client_metadata()) {
    const std::string_view name(key.data(), key.size());
    if (name.substr(0, kPrefix.size()) != kPrefix) continue;
    context.emplace_back(std::string(name.substr(kPrefix.size())),
                         std::string(value.data(), value.size()));
  }
  if (absl::Status valid = governance::ValidateCallerContext(context, "x-sochdb-context header");
      !valid.ok()) {
    return valid;
  }
  return context;
}

}  // namespace sochdb::server
