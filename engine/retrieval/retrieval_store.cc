#include "engine/retrieval/retrieval_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "engine/common/absl_view.h"
#include "engine/common/hex.h"
#include "engine/common/status_macros.h"
#include "engine/storage/keys.h"
#include "engine/storage/varint.h"

namespace sochdb::retrieval {
namespace {

using storage::KeyBuilder;
using storage::KeyFamily;

constexpr char kRecordVersion = 1;

std::string BindingKey(const std::string& tenant, const Id128& id) {
  return KeyBuilder(KeyFamily::kRetrievalBinding).Name(tenant).U64(id.high).U64(id.low).key();
}

// The operation id is hex text; its 32 bytes are the key's tail.
std::string AppliedKey(const std::string& tenant, const std::string& operation_id) {
  std::string raw;
  if (!HexToBytes(operation_id, &raw)) raw = operation_id;  // OperationId() always gives hex
  return KeyBuilder(KeyFamily::kRetrievalApplied).Name(tenant).Raw(raw).key();
}

// Records: a version byte, then varints and length-prefixed bytes (engine/storage/varint.h).
std::string EncodeBinding(uint64_t incarnation, std::string_view name) {
  std::string out(1, kRecordVersion);
  storage::PutVarint64(incarnation, &out);
  storage::PutLengthPrefixed(name, &out);
  return out;
}

std::string EncodeApplied(uint64_t inserted_count, uint64_t generation) {
  std::string out(1, kRecordVersion);
  storage::PutVarint64(inserted_count, &out);
  storage::PutVarint64(generation, &out);
  return out;
}

absl::Status Damaged(std::string_view what, std::string_view key) {
  return absl::DataLossError(
      absl::StrCat("the ", AbslView(what), " record at ", storage::QuotedKey(key), " cannot be decoded"));
}

uint64_t MicrosSince(absl::Time start) {
  return static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start));
}

absl::Status CheckQuery(const RetrieveRequest& request, uint32_t dimension) {
  if (request.query.size() != dimension) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "expected a %d-dimensional query, got %d floats", dimension, request.query.size()));
  }
  if (request.top_k == 0) return absl::InvalidArgumentError("top_k must be at least 1");
  const uint32_t budget = std::max(request.candidate_budget, request.top_k);
  if (budget > vector::kMaxK) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "max(top_k, candidate_budget) is %d; the limit is %d", budget, vector::kMaxK));
  }
  return absl::OkStatus();
}

// The engine's vector ids are 64-bit: an id with high bits is refused, never truncated.
absl::StatusOr<std::vector<uint64_t>> NarrowIds(const std::vector<Id128>& ids) {
  std::vector<uint64_t> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].high != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "ids[%d].high is %d; this server's vector ids are 64-bit (high must be 0)", i,
          ids[i].high));
    }
    out[i] = ids[i].low;
  }
  return out;
}

}  // namespace

RetrievalStore::RetrievalStore(storage::Store* store, vector::VectorIndexStore* indexes,
                               TokenSigner signer)
    : store_(store), indexes_(indexes), signer_(std::move(signer)) {}

absl::Status RetrievalStore::Bind(const std::string& tenant, const Id128& object_id,
                                  const std::string& name) {
  if (object_id.zero()) {
    return absl::FailedPreconditionError("index_object_id must not be zero");
  }
  absl::StatusOr<vector::VectorIndexDefinition> d = indexes_->Definition(tenant, name);
  if (absl::IsNotFound(d.status())) {
    return absl::FailedPreconditionError(absl::StrCat("Index '", name, "' not found"));
  }
  SOCHDB_RETURN_IF_ERROR(d.status());
  absl::MutexLock lock(&bind_mu_);
  absl::StatusOr<Binding> existing = Resolve(tenant, object_id);
  if (existing.ok() && existing->name != name) {
    return absl::FailedPreconditionError(
        absl::StrCat("object id is already bound to a different index ('",
                     IndexKey(tenant, existing->name), "')"));
  }
  if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
  storage::WriteBatch batch;
  batch.Put(BindingKey(tenant, object_id), EncodeBinding(d->incarnation, name));
  return store_->Write(&batch);
}

absl::StatusOr<RetrievalStore::Binding> RetrievalStore::Resolve(const std::string& tenant,
                                                                const Id128& object_id) const {
  const std::string key = BindingKey(tenant, object_id);
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> value, store_->Get(key));
  if (!value.has_value()) {
    return absl::NotFoundError(absl::StrFormat("index object 0x%016x%016x is not bound to any index",
                                               object_id.high, object_id.low));
  }
  std::string_view in = *value;
  Binding binding;
  std::string_view name;
  if (in.empty() || in[0] != kRecordVersion) return Damaged("retrieval binding", key);
  in.remove_prefix(1);
  if (!storage::GetVarint64(&in, &binding.incarnation) ||
      !storage::GetLengthPrefixed(&in, &name) || !in.empty()) {
    return Damaged("retrieval binding", key);
  }
  binding.name = std::string(name);
  return binding;
}

absl::StatusOr<vector::VectorIndexDefinition> RetrievalStore::Served(
    const std::string& tenant, const Binding& binding) const {
  absl::StatusOr<vector::VectorIndexDefinition> d = indexes_->Definition(tenant, binding.name);
  if ((d.ok() && d->incarnation != binding.incarnation) || absl::IsNotFound(d.status())) {
    return absl::NotFoundError(
        absl::StrCat("Index '", IndexKey(tenant, binding.name), "' is not served"));
  }
  return d;
}

absl::StatusOr<RetrievalStore::Binding> RetrievalStore::Admit(const std::string& tenant,
                                                              uint64_t now_unix_ms,
                                                              const RequestEnvelope& envelope,
                                                              Operation operation) const {
  SOCHDB_RETURN_IF_ERROR(CheckContract(envelope.contract));
  SOCHDB_RETURN_IF_ERROR(CheckDeadline(envelope.deadline_unix_ms, now_unix_ms));
  if (!envelope.index_object_id.has_value()) {
    return absl::InvalidArgumentError("index_object_id is required");
  }
  SOCHDB_ASSIGN_OR_RETURN(Binding binding, Resolve(tenant, *envelope.index_object_id));
  const std::string key = IndexKey(tenant, binding.name);
  SOCHDB_RETURN_IF_ERROR(signer_.Verify(envelope.capability,
                                        TokenDemand{key, tenant, operation,
                                                    envelope.policy_scope_digest, now_unix_ms}));
  return binding;
}

absl::StatusOr<RetrieveResult> RetrievalStore::Retrieve(const std::string& tenant,
                                                        uint64_t now_unix_ms,
                                                        const RetrieveRequest& request) const {
  SOCHDB_ASSIGN_OR_RETURN(const Binding binding,
                          Admit(tenant, now_unix_ms, request.envelope, Operation::kSearch));
  SOCHDB_ASSIGN_OR_RETURN(const vector::VectorIndexDefinition d, Served(tenant, binding));
  RetrieveResult result;
  SOCHDB_ASSIGN_OR_RETURN(result.generation, indexes_->Generation(tenant, binding.name));
  SOCHDB_RETURN_IF_ERROR(CheckGeneration(request.required_generation, result.generation));
  SOCHDB_RETURN_IF_ERROR(CheckQuery(request, d.spec.dimension));
  result.budget = std::max(request.candidate_budget, request.top_k);
  if (request.candidate_budget != 0 && request.candidate_budget < request.top_k) {
    result.warnings.push_back(absl::StrFormat("candidate_budget %d was below top_k %d and was raised",
                                              request.candidate_budget, request.top_k));
  }
  const absl::Time start = absl::Now();
  vector::VectorSearchOptions options;
  options.k = result.budget;
  SOCHDB_ASSIGN_OR_RETURN(vector::VectorSearchOutcome outcome,
                          indexes_->Search(tenant, binding.name, request.query, options));
  result.search_us = MicrosSince(start);
  result.searched = static_cast<uint32_t>(outcome.hits.size());
  const size_t kept = std::min<size_t>(outcome.hits.size(), request.top_k);
  for (size_t i = 0; i < kept; ++i) {
    result.candidates.emplace_back(Id128{0, outcome.hits[i].id}, outcome.hits[i].distance);
  }
  result.evidence_digest = EvidenceDigest(*request.envelope.index_object_id, result.generation,
                                          request.source_snapshot_id, result.candidates);
  return result;
}

absl::StatusOr<std::optional<RetrievalStore::Applied>> RetrievalStore::FindApplied(
    const std::string& tenant, const std::string& operation_id) const {
  const std::string key = AppliedKey(tenant, operation_id);
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> value, store_->Get(key));
  if (!value.has_value()) return std::optional<Applied>();
  std::string_view in = *value;
  uint64_t inserted = 0;
  Applied applied;
  if (in.empty() || in[0] != kRecordVersion) return Damaged("retrieval operation", key);
  in.remove_prefix(1);
  if (!storage::GetVarint64(&in, &inserted) || !storage::GetVarint64(&in, &applied.generation) ||
      !in.empty()) {
    return Damaged("retrieval operation", key);
  }
  applied.inserted_count = static_cast<uint32_t>(inserted);
  return std::optional<Applied>(applied);
}

absl::StatusOr<IngestResult> RetrievalStore::Ingest(const std::string& tenant,
                                                    uint64_t now_unix_ms,
                                                    const IngestRequest& request) {
  SOCHDB_ASSIGN_OR_RETURN(const Binding binding,
                          Admit(tenant, now_unix_ms, request.envelope, Operation::kIngest));
  IngestResult result;
  result.operation_id = OperationId(*request.envelope.index_object_id, request.index_generation,
                                    request.source_snapshot_id, request.batch_sequence);
  // A repeat is answered before validation: a batch accepted once cannot become invalid.
  auto answer_repeat = [&]() -> absl::StatusOr<bool> {
    SOCHDB_ASSIGN_OR_RETURN(std::optional<Applied> applied, FindApplied(tenant,
                                                                        result.operation_id));
    if (!applied.has_value()) return false;
    result.inserted_count = applied->inserted_count;
    result.generation = applied->generation;
    return true;
  };
  SOCHDB_ASSIGN_OR_RETURN(bool repeat, answer_repeat());
  if (repeat) return result;
  SOCHDB_ASSIGN_OR_RETURN(const vector::VectorIndexDefinition d, Served(tenant, binding));
  const uint64_t expected = uint64_t{request.ids.size()} * d.spec.dimension;
  if (request.vectors.size() != expected) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "expected %d floats for %d vectors of dimension %d, got %d", expected, request.ids.size(),
        d.spec.dimension, request.vectors.size()));
  }
  SOCHDB_ASSIGN_OR_RETURN(const std::vector<uint64_t> ids, NarrowIds(request.ids));
  // The record commits with the vectors, under the index's write lock: a concurrent twin of
  // this batch finds it there and is answered as a repeat; a crash keeps both or neither.
  const std::string applied_key = AppliedKey(tenant, result.operation_id);
  const vector::BatchSeal seal = [&](uint64_t last_sequence,
                                     storage::WriteBatch* batch) -> absl::Status {
    SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> existing, store_->Get(applied_key));
    if (existing.has_value()) return absl::AlreadyExistsError("operation already applied");
    batch->Put(applied_key, EncodeApplied(ids.size(), last_sequence));
    result.generation = last_sequence;
    return absl::OkStatus();
  };
  const absl::StatusOr<size_t> inserted =
      indexes_->Insert(tenant, binding.name, ids, request.vectors, {}, d.incarnation, &seal);
  if (absl::IsAlreadyExists(inserted.status())) {
    SOCHDB_ASSIGN_OR_RETURN(repeat, answer_repeat());
    if (repeat) return result;
  }
  SOCHDB_RETURN_IF_ERROR(inserted.status());
  result.applied = true;
  result.inserted_count = static_cast<uint32_t>(*inserted);
  return result;
}

}  // namespace sochdb::retrieval
