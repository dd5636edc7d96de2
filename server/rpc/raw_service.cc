#include "server/rpc/raw_service.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/impl/rpc_service_method.h"

namespace sochdb::server {
namespace {

grpc::internal::RpcMethod::RpcType KindOf(const google::protobuf::MethodDescriptor& method) {
  if (method.client_streaming() && method.server_streaming()) {
    return grpc::internal::RpcMethod::BIDI_STREAMING;
  }
  if (method.client_streaming()) return grpc::internal::RpcMethod::CLIENT_STREAMING;
  if (method.server_streaming()) return grpc::internal::RpcMethod::SERVER_STREAMING;
  return grpc::internal::RpcMethod::NORMAL_RPC;
}

}  // namespace

RawService::RawService(const google::protobuf::ServiceDescriptor& descriptor)
    : descriptor_(descriptor) {
  for (int i = 0; i < descriptor.method_count(); ++i) {
    const google::protobuf::MethodDescriptor& method = *descriptor.method(i);
    paths_.push_back(absl::StrCat("/", descriptor.full_name(), "/", method.name()));
    // No handler: the method is served asynchronously through the Request* calls below.
    AddMethod(new grpc::internal::RpcServiceMethod(paths_.back().c_str(), KindOf(method), nullptr));
    MarkMethodRaw(i);
  }
}

void RawService::RequestUnary(int index, grpc::ServerContext* context, grpc::ByteBuffer* request,
                              grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>* responder,
                              grpc::ServerCompletionQueue* cq, void* tag) {
  RequestAsyncUnary(index, context, request, responder, cq, cq, tag);
}

void RawService::RequestServerStream(int index, grpc::ServerContext* context,
                                     grpc::ByteBuffer* request,
                                     grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                                     grpc::ServerCompletionQueue* cq, void* tag) {
  RequestAsyncServerStreaming(index, context, request, writer, cq, cq, tag);
}

void RawService::RequestClientStream(
    int index, grpc::ServerContext* context,
    grpc::ServerAsyncReader<grpc::ByteBuffer, grpc::ByteBuffer>* reader,
    grpc::ServerCompletionQueue* cq, void* tag) {
  RequestAsyncClientStreaming(index, context, reader, cq, cq, tag);
}

}  // namespace sochdb::server
