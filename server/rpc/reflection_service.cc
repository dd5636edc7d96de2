#include "server/rpc/reflection_service.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"

namespace sochdb::server {

namespace reflection = grpc::reflection::v1alpha;
using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;

namespace {

void SetError(grpc::StatusCode code, const std::string& message,
              reflection::ServerReflectionResponse* response) {
  reflection::ErrorResponse* error = response->mutable_error_response();
  error->set_error_code(static_cast<int>(code));
  error->set_error_message(message);
}

// Adds `file` and, depth first, every file it imports that this answer does not hold yet: a
// client can build the descriptors from one answer.
void AddFile(const FileDescriptor* file, absl::flat_hash_set<std::string>* added,
             reflection::ServerReflectionResponse* response) {
  if (!added->insert(file->name()).second) return;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  proto.SerializeToString(
      response->mutable_file_descriptor_response()->add_file_descriptor_proto());
  for (int i = 0; i < file->dependency_count(); ++i) AddFile(file->dependency(i), added, response);
}

void AnswerWithFile(const FileDescriptor* file, const char* not_found,
                    reflection::ServerReflectionResponse* response) {
  if (file == nullptr) {
    SetError(grpc::StatusCode::NOT_FOUND, not_found, response);
    return;
  }
  absl::flat_hash_set<std::string> added;
  AddFile(file, &added, response);
}

void AnswerExtension(const reflection::ExtensionRequest& request,
                     reflection::ServerReflectionResponse* response) {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  const google::protobuf::Descriptor* type = pool->FindMessageTypeByName(request.containing_type());
  if (type == nullptr) {
    SetError(grpc::StatusCode::NOT_FOUND, "Type not found.", response);
    return;
  }
  const google::protobuf::FieldDescriptor* extension =
      pool->FindExtensionByNumber(type, request.extension_number());
  AnswerWithFile(extension == nullptr ? nullptr : extension->file(), "Extension not found.",
                 response);
}

void AnswerExtensionNumbers(const std::string& type_name,
                            reflection::ServerReflectionResponse* response) {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  const google::protobuf::Descriptor* type = pool->FindMessageTypeByName(type_name);
  if (type == nullptr) {
    SetError(grpc::StatusCode::NOT_FOUND, "Type not found.", response);
    return;
  }
  std::vector<const google::protobuf::FieldDescriptor*> extensions;
  pool->FindAllExtensions(type, &extensions);
  reflection::ExtensionNumberResponse* numbers =
      response->mutable_all_extension_numbers_response();
  numbers->set_base_type_name(type->full_name());
  for (const auto* extension : extensions) numbers->add_extension_number(extension->number());
}

}  // namespace

reflection::ServerReflectionResponse AnswerReflection(
    const reflection::ServerReflectionRequest& request, const std::vector<std::string>& services) {
  reflection::ServerReflectionResponse response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  switch (request.message_request_case()) {
    case reflection::ServerReflectionRequest::kFileByFilename:
      AnswerWithFile(pool->FindFileByName(request.file_by_filename()), "File not found.",
                     &response);
      break;
    case reflection::ServerReflectionRequest::kFileContainingSymbol:
      AnswerWithFile(pool->FindFileContainingSymbol(request.file_containing_symbol()),
                     "Symbol not found.", &response);
      break;
    case reflection::ServerReflectionRequest::kFileContainingExtension:
      AnswerExtension(request.file_containing_extension(), &response);
      break;
    case reflection::ServerReflectionRequest::kAllExtensionNumbersOfType:
      AnswerExtensionNumbers(request.all_extension_numbers_of_type(), &response);
      break;
    case reflection::ServerReflectionRequest::kListServices:
      for (const std::string& name : services) {
        response.mutable_list_services_response()->add_service()->set_name(name);
      }
      break;
    case reflection::ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      SetError(grpc::StatusCode::UNIMPLEMENTED, "", &response);
      break;
  }
  return response;
}

// One ServerReflectionInfo stream: read a request, write its answer, read the next, until the
// client half-closes or goes away, then finish OK. One operation is outstanding at a time and
// every completion comes back on the call's queue, whose single poller thread alone moves it:
// no lock. A client that cancels, or the server's shutdown, ends the pending read (ok false).
class ReflectionService::InfoCall final : public CallTag {
 public:
  static void Post(ReflectionService* service, CompletionQueueGate* gate) {
    auto* call = new InfoCall(service, gate);
    const bool posted = gate->Post([call, service, gate] {
      service->service_.RequestServerReflectionInfo(&call->context_, &call->stream_, gate->cq(),
                                                    gate->cq(), call);
    });
    if (!posted) delete call;
  }

  void Proceed(bool ok) override {
    switch (step_) {
      case Step::kArriving:
        if (!ok) break;  // the server shut down before a stream came
        Post(service_, gate_);
        StartRead();
        return;
      case Step::kReading:
        if (!ok) {  // the client is done sending, or gone
          StartFinish();
          return;
        }
        response_ = AnswerReflection(request_, service_->services_);
        step_ = Step::kWriting;
        if (!gate_->Post([this] { stream_.Write(response_, this); })) break;
        return;
      case Step::kWriting:
        if (ok) {
          StartRead();
        } else {
          StartFinish();  // the client is gone; finishing is what lets gRPC free the call
        }
        return;
      case Step::kFinishing:
        break;
    }
    delete this;
  }

 private:
  enum class Step { kArriving, kReading, kWriting, kFinishing };

  InfoCall(ReflectionService* service, CompletionQueueGate* gate)
      : service_(service), gate_(gate), stream_(&context_) {}

  void StartRead() {
    step_ = Step::kReading;
    if (!gate_->Post([this] { stream_.Read(&request_, this); })) delete this;
  }
  void StartFinish() {
    step_ = Step::kFinishing;
    if (!gate_->Post([this] { stream_.Finish(grpc::Status::OK, this); })) delete this;
  }

  ReflectionService* const service_;
  CompletionQueueGate* const gate_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<reflection::ServerReflectionResponse,
                                reflection::ServerReflectionRequest>
      stream_;
  reflection::ServerReflectionRequest request_;
  reflection::ServerReflectionResponse response_;  // being written
  Step step_ = Step::kArriving;
};

ReflectionService::ReflectionService(std::vector<std::string> services)
    : services_(std::move(services)) {}

ReflectionService::~ReflectionService() = default;

void ReflectionService::Post(CompletionQueueGate* gate, int calls) {
  for (int i = 0; i < calls; ++i) InfoCall::Post(this, gate);
}

}  // namespace sochdb::server
