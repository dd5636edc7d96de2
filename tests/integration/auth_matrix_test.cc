// Every method of every served sochdb.v1 service, enumerated from the server's own reflection and
// our descriptors (so a new RPC cannot be added without this test calling it), is called with no
// key, a wrong key, a key prefix and another tenant's key: none may reach a handler.
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "engine/auth/auth.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/message.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "sochdb/v1/kv.grpc.pb.h"
#include "tests/integration/server_process.h"

namespace sochdb::testing {
namespace {

constexpr char kAlphaKey[] = "sk_matrix_alpha_0123456789";
constexpr char kBetaKey[] = "sk_matrix_beta_0123456789";

std::vector<std::string> ServedServices(const ServerProcess& server) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(server.Channel());
  auto ctx = MakeContext();
  auto stream = stub->ServerReflectionInfo(ctx.get());
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("");
  stream->Write(req);
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  stream->Read(&resp);
  stream->WritesDone();
  stream->Finish();
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service()) {
    if (s.name().rfind("sochdb.v1.", 0) == 0) names.push_back(s.name());
  }
  return names;
}

// Calls `method` (a full path) with an empty request through the generic API, which works for
// every RPC kind, and returns the final status.
grpc::Status CallEmpty(grpc::GenericStub& stub, const std::string& method,
                       const std::string& metadata_name, const std::string& metadata_value,
                       const std::string& payload = "") {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!metadata_name.empty()) ctx.AddMetadata(metadata_name, metadata_value);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&ctx, method, &cq);
  void* tag;
  bool ok;
  int step = 1;
  call->StartCall(reinterpret_cast<void*>(step));
  cq.Next(&tag, &ok);
  grpc::Slice bytes(payload);
  const grpc::ByteBuffer request(&bytes, 1);
  call->WriteLast(request, grpc::WriteOptions(), reinterpret_cast<void*>(++step));
  cq.Next(&tag, &ok);
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(++step));
  cq.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(++step));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

TEST_CASE("no method of any served service can be called without a valid key") {
  const std::string dir = NewTempDir("matrix");
  {
    std::ofstream keys(dir + "/keys");
    keys << *auth::MakeKeyEntry(kAlphaKey, "alpha", auth::Role::kAdmin, "alpha-admin") << "\n"
         << *auth::MakeKeyEntry(kBetaKey, "beta", auth::Role::kEditor, "beta-editor") << "\n";
  }
  ServerProcess server({{}, {"--auth-keys", dir + "/keys"}});
  std::string error;
  REQUIRE(server.Start(&error));
  // Link the generated descriptors in, so the pool knows every sochdb.v1 file.
  REQUIRE(v1::KvService::service_full_name() != nullptr);

  const std::vector<std::string> services = ServedServices(server);
  REQUIRE(!services.empty());
  grpc::GenericStub stub(server.Channel());
  int methods = 0;
  int unauthenticated_accepted = 0;  // calls without a valid key that were not refused as such
  const auto refused = [&](const grpc::Status& s) {
    if (s.error_code() != grpc::StatusCode::UNAUTHENTICATED) ++unauthenticated_accepted;
    return s.error_code() == grpc::StatusCode::UNAUTHENTICATED;
  };
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    REQUIRE(service != nullptr);
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string path = absl::StrCat("/", name, "/", service->method(i)->name());
      INFO(path);
      ++methods;
      CHECK(refused(CallEmpty(stub, path, "", "")));
      CHECK(refused(CallEmpty(stub, path, "authorization", "Bearer sk_matrix_wrong")));
      CHECK(refused(CallEmpty(stub, path, "authorization", "Bearer sk_matrix_alpha")));  // prefix
      CHECK(refused(CallEmpty(stub, path, "authorization", kAlphaKey)));  // no "Bearer " scheme
      CHECK(refused(CallEmpty(stub, path, "x-api-key", "")));
      const google::protobuf::Descriptor* input = service->method(i)->input_type();
      const google::protobuf::FieldDescriptor* ns_field = input->FindFieldByName("namespace");
      // NamespaceService names its namespace `name` (CreateNamespace, GetNamespace,
      // DeleteNamespace): the call layer checks that field.
      if (ns_field == nullptr && name == "sochdb.v1.NamespaceService") {
        ns_field = input->FindFieldByName("name");
      }
      // A context query names its namespaces in its sections (the session's by default).
      const google::protobuf::FieldDescriptor* session_field = input->FindFieldByName("session_id");
      const google::protobuf::FieldDescriptor* sections_field = input->FindFieldByName("sections");
      if (sections_field == nullptr) session_field = nullptr;
      if (ns_field != nullptr || session_field != nullptr) {
        // beta's key is valid, but the request names alpha's namespace: refused before the
        // handler.
        std::unique_ptr<google::protobuf::Message> request(
            google::protobuf::MessageFactory::generated_factory()->GetPrototype(input)->New());
        if (ns_field != nullptr) {
          request->GetReflection()->SetString(request.get(), ns_field, "alpha");
        } else {
          request->GetReflection()->SetString(request.get(), session_field, "alpha");
          google::protobuf::Message* section =
              request->GetReflection()->AddMessage(request.get(), sections_field);
          section->GetReflection()->SetEnumValue(
              section, section->GetDescriptor()->FindFieldByName("section_type"), 1);  // LAST
        }
        const grpc::Status other =
            CallEmpty(stub, path, "x-api-key", kBetaKey, request->SerializeAsString());
        CHECK(other.error_code() == grpc::StatusCode::PERMISSION_DENIED);
        CHECK(other.error_message().find(kBetaKey) == std::string::npos);
      } else {
        const grpc::Status other = CallEmpty(stub, path, "x-api-key", kBetaKey);
        // Tenant-scoped methods (vector indexes) take no namespace: a valid key reaches the
        // handler, which works in the key's own tenant (tests/integration/vector_test).
        CHECK(other.error_code() != grpc::StatusCode::UNAUTHENTICATED);
        CHECK(other.error_code() != grpc::StatusCode::PERMISSION_DENIED);
        CHECK(other.error_message().find(kBetaKey) == std::string::npos);
      }
    }
  }
  std::printf("auth matrix: services=%zu methods=%d unauthenticated_accepted=%d\n",
              services.size(), methods, unauthenticated_accepted);
  CHECK(unauthenticated_accepted == 0);
  CHECK(methods >= 6);
  CHECK(server.log().find(kAlphaKey) == std::string::npos);
  CHECK(server.log().find(kBetaKey) == std::string::npos);
}

}  // namespace
}  // namespace sochdb::testing
