#include "services/vector/insert_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/vector/ann_index.h"

namespace sochdb::services {

static_assert(InsertStreamSink::kBatch *
                      (vector::kMaxDimension * sizeof(float) + vector::kMaxViewTypeBytes) <=
                  (4u << 20),
              "an InsertStream batch must stay small whatever the client sends");

InsertStreamSink::InsertStreamSink(vector::VectorIndexStore* indexes)
    : indexes_(indexes), started_(absl::Now()) {}

grpc::Status InsertStreamSink::OnMessage(server::CallContext& ctx,
                                         const v1::InsertStreamRequest& m) {
  ++received_;
  if (index_.empty()) {
    if (!Open(ctx.principal().tenant, m.index_name())) return grpc::Status::OK;
  } else if (!m.index_name().empty() && m.index_name() != index_) {
    // Not echoed: the name could be megabytes, and the stream's own is enough to say it.
    AddError(absl::StrCat("stream message ", received_,
                          ": index_name differs from the stream's index '", index_,
                          "' (one stream writes one index)"));
    return grpc::Status::OK;
  }
  vector::VectorMetadata meta;
  if (m.metadata().has_parent_id()) meta.parent_id = m.metadata().parent_id();
  if (m.metadata().has_view_type()) meta.view_type = m.metadata().view_type();
  if (absl::Status ok = Check(m, meta); !ok.ok()) {
    AddError(absl::StrCat("stream message ", received_, ": ", ok.message()));
    return grpc::Status::OK;
  }
  if (buffered_ids_.contains(m.id())) {
    Flush();
    // A batch that could not be stored ends the stream: this message goes no further than the
    // ones after it, which are no longer read (buffered, Finish would have written it after
    // the error that ended the stream; into an index created since under the name, even).
    if (stop_) return grpc::Status::OK;
  }
  if (ids_.empty()) first_buffered_ = received_;
  last_buffered_ = received_;
  ids_.push_back(m.id());
  buffered_ids_.insert(m.id());
  vectors_.insert(vectors_.end(), m.vector().begin(), m.vector().end());
  metadata_.push_back(std::move(meta));
  if (ids_.size() >= kBatch) Flush();
  return grpc::Status::OK;
}

grpc::Status InsertStreamSink::Finish(server::CallContext& ctx, v1::InsertStreamResponse* resp) {
  Flush();
  resp->set_total_inserted(inserted_);
  for (std::string& e : errors_) resp->add_errors(std::move(e));
  if (unlisted_errors_ > 0) {
    resp->add_errors(absl::StrCat(unlisted_errors_, " more errors (the first ", kMaxListedErrors,
                                  " are listed)"));
  }
  resp->set_duration_us(static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - started_)));
  return grpc::Status::OK;
}

bool InsertStreamSink::Open(const std::string& tenant, const std::string& name) {
  // Later messages cannot succeed without an index: one error, and the stream ends (upstream
  // repeated this error for every message until one named an index).
  stop_ = true;
  if (name.empty()) {
    AddError("First message must include index_name");
    return false;
  }
  absl::StatusOr<vector::VectorIndexDefinition> d = indexes_->Definition(tenant, name);
  if (!d.ok()) {
    AddError(std::string(d.status().message()));
    return false;
  }
  stop_ = false;
  tenant_ = tenant;
  index_ = name;
  incarnation_ = d->incarnation;
  dimension_ = d->spec.dimension;
  return true;
}

absl::Status InsertStreamSink::Check(const v1::InsertStreamRequest& m,
                                     const vector::VectorMetadata& meta) const {
  const absl::Span<const float> vector(m.vector().data(), m.vector_size());
  if (absl::Status valid = vector::ValidateVector(vector, dimension_, "vector"); !valid.ok()) {
    return valid;
  }
  return vector::ValidateVectorMetadata(meta, "metadata");
}

void InsertStreamSink::Flush() {
  if (ids_.empty()) return;
  absl::StatusOr<size_t> n =
      indexes_->Insert(tenant_, index_, ids_, vectors_, metadata_, incarnation_);
  if (n.ok()) {
    inserted_ += static_cast<uint32_t>(*n);
  } else {
    // The index is gone or the store refuses writes: later batches would fail the same way.
    const std::string which =
        first_buffered_ == last_buffered_
            ? absl::StrCat("stream message ", first_buffered_)
            : absl::StrCat("stream messages ", first_buffered_, "-", last_buffered_);
    AddError(absl::StrCat(which, " not stored: ", n.status().message()));
    stop_ = true;
  }
  ids_.clear();
  vectors_.clear();
  metadata_.clear();
  buffered_ids_.clear();
}

void InsertStreamSink::AddError(std::string error) {
  if (errors_.size() < kMaxListedErrors) {
    errors_.push_back(std::move(error));
  } else {
    ++unlisted_errors_;
  }
}

}  // namespace sochdb::services
