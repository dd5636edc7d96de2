// sochdb.v1.CapabilityService: GetCapabilities answers the manifest (manifest.h) of the services
// registered before it; register it last. Never fails once the caller is authenticated.
#ifndef SOCHDB_SERVICES_CAPABILITY_CAPABILITY_SERVICE_H_
#define SOCHDB_SERVICES_CAPABILITY_CAPABILITY_SERVICE_H_

#include "server/rpc/call_context.h"
#include "server/rpc/grpc_server.h"
#include "sochdb/v1/capability.grpc.pb.h"

namespace sochdb::services {

class CapabilityService {
 public:
  // Builds the manifest from the services `server` serves so far and aborts (a programming
  // error) when it breaks ValidateManifest's rules.
  void Register(server::GrpcServer& server);

 private:
  grpc::Status GetCapabilities(server::CallContext& ctx, const v1::GetCapabilitiesRequest& req,
                               v1::CapabilityManifest* resp);

  v1::CapabilityManifest manifest_;
};

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_CAPABILITY_CAPABILITY_SERVICE_H_
