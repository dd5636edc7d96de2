// grpc.reflection.v1alpha.ServerReflection (what grpcurl and Postman ask for the services and
// their descriptors), served by the process itself from its completion queues, like health: no
// thread of its own and none per stream.
//
// Not gRPC's ProtoServerReflection plugin: that one is a synchronous service, and each open
// stream held one of gRPC's synchronous threads (64 at most) for as long as the client kept it,
// so ~60 idle streams, which need no API key, made every other client's reflection answer
// RESOURCE_EXHAUSTED. Here an idle stream is a pending read; it costs memory only, bounded by
// the connection cap times the HTTP/2 streams per connection, and no number of them stops a
// new stream from being answered. The answers are the plugin's, from the process's generated
// descriptor pool: a file comes with every file it imports, errors are NOT_FOUND ("Symbol not
// found.") in the error response, and the stream stays open.
#ifndef SOCHDB_SERVER_RPC_REFLECTION_SERVICE_H_
#define SOCHDB_SERVER_RPC_REFLECTION_SERVICE_H_

#include <string>
#include <vector>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/impl/service_type.h"
#include "server/rpc/calls.h"

namespace sochdb::server {

// The answer to one reflection request, from the generated descriptor pool. `services`: the
// names ListServices reports. Thread-safe (the pool is).
grpc::reflection::v1alpha::ServerReflectionResponse AnswerReflection(
    const grpc::reflection::v1alpha::ServerReflectionRequest& request,
    const std::vector<std::string>& services);

class ReflectionService {
 public:
  // `services`: the full names of every service the server serves, this one included.
  explicit ReflectionService(std::vector<std::string> services);
  // Only once every call has ended: after the server and its queues have shut down and drained.
  ~ReflectionService();

  ReflectionService(const ReflectionService&) = delete;
  ReflectionService& operator=(const ReflectionService&) = delete;

  // To register with the grpc::ServerBuilder before the server is built.
  grpc::Service* service() { return &service_; }
  // Waits for `calls` streams on the gate's queue; each stream that arrives posts its
  // replacement, until the queue closes. After the server has started.
  void Post(CompletionQueueGate* gate, int calls);

 private:
  class InfoCall;

  grpc::reflection::v1alpha::ServerReflection::AsyncService service_;
  const std::vector<std::string> services_;
};

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_REFLECTION_SERVICE_H_
