// RawService: a grpc::Service built from a protobuf ServiceDescriptor with every method "raw":
// requests and responses cross it as serialized bytes (grpc::ByteBuffer). The call layer parses
// and serializes messages itself, so a malformed request (bad wire format, invalid UTF-8 in a
// string field) is answered INVALID_ARGUMENT naming the field, counted in the metrics, and never
// half-applied inside a client stream. Server reflection lists it like a generated service.
#ifndef SOCHDB_SERVER_RPC_RAW_SERVICE_H_
#define SOCHDB_SERVER_RPC_RAW_SERVICE_H_

#include <deque>
#include <string>

#include "google/protobuf/descriptor.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/async_unary_call.h"
#include "grpcpp/support/byte_buffer.h"

namespace sochdb::server {

class RawService final : public grpc::Service {
 public:
  // `descriptor` must outlive the service (generated descriptors live forever).
  explicit RawService(const google::protobuf::ServiceDescriptor& descriptor);

  const google::protobuf::ServiceDescriptor& descriptor() const { return descriptor_; }

  // Ask for the next call of method `index` (its position in the descriptor) on `cq`; `tag`
  // comes back from the queue when one arrives (ok) or the server shuts down (!ok).
  void RequestUnary(int index, grpc::ServerContext* context, grpc::ByteBuffer* request,
                    grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>* responder,
                    grpc::ServerCompletionQueue* cq, void* tag);
  void RequestServerStream(int index, grpc::ServerContext* context, grpc::ByteBuffer* request,
                           grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                           grpc::ServerCompletionQueue* cq, void* tag);
  void RequestClientStream(int index, grpc::ServerContext* context,
                           grpc::ServerAsyncReader<grpc::ByteBuffer, grpc::ByteBuffer>* reader,
                           grpc::ServerCompletionQueue* cq, void* tag);

 private:
  const google::protobuf::ServiceDescriptor& descriptor_;
  std::deque<std::string> paths_;  // "/pkg.Service/Method"; gRPC keeps pointers into these
};

}  // namespace sochdb::server

#endif  // SOCHDB_SERVER_RPC_RAW_SERVICE_H_
