#include "services/capability/capability_service.h"

#include <string>

#include "services/capability/manifest.h"

namespace sochdb::services {

void CapabilityService::Register(server::GrpcServer& server) {
  manifest_ = BuildManifest(server.service_names());
  if (absl::Status valid = ValidateManifest(manifest_); !valid.ok()) {
    server::DieBadRegistration(v1::CapabilityService::service_full_name(), "GetCapabilities",
                               std::string(valid.message()));
  }
  auto r = server.AddService<v1::CapabilityService>();
  r.Unary("GetCapabilities", {auth::Capability::kRead}, this,
          &CapabilityService::GetCapabilities);
}

grpc::Status CapabilityService::GetCapabilities(server::CallContext& ctx,
                                                const v1::GetCapabilitiesRequest& req,
                                                v1::CapabilityManifest* resp) {
  *resp = manifest_;
  return grpc::Status::OK;
}

}  // namespace sochdb::services
