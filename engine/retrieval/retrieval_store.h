// RetrievalStore: retrieval protocol v2 over the tenant-scoped vector indexes of
// VectorIndexStore. An index is addressed by a 128-bit object id bound to it (BindIndex), every
// Retrieve and Ingest carries a capability token signed by this server (TokenSigner), and an
// Ingest batch is applied at most once: its operation id is recorded in the same store batch as
// its vectors, so a retry, even after a restart or a kill -9, is answered from the record.
//
// Persistent state (engine/storage/keys.h): kRetrievalBinding Name(tenant) U64 U64 -> the
// index's name and incarnation (the creation of the name it was bound to: a binding never
// silently follows a dropped index to a new one of the same name), and kRetrievalApplied
// Name(tenant) Raw(operation id) -> inserted count and generation. Both are keyed by the
// caller's tenant: tenants cannot see, resolve or collide with each other's object ids or
// operations.
//
// A generation is the index's change sequence (VectorIndexStore::Generation): durable, so an
// answer names a state that survives a restart. The engine has no multi-version reads: a pin
// (required generation) is honoured by refusing (ABORTED) when the index has moved on.
//
// Checks run in upstream's order (../shared/UPSTREAM.md §1.2) and fail with its codes and texts
// (retrieval_protocol.h). Thread safety: all methods may be called concurrently.
#ifndef SOCHDB_ENGINE_RETRIEVAL_RETRIEVAL_STORE_H_
#define SOCHDB_ENGINE_RETRIEVAL_RETRIEVAL_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "engine/retrieval/retrieval_protocol.h"
#include "engine/storage/store.h"
#include "engine/vector/vector_index_store.h"

namespace sochdb::retrieval {

// What every v2 data request carries besides its payload.
struct RequestEnvelope {
  std::optional<std::pair<uint32_t, uint32_t>> contract;  // (major, minor); nullopt: absent
  uint64_t deadline_unix_ms = 0;                           // 0: none
  std::optional<Id128> index_object_id;
  std::optional<CapabilityToken> capability;
  std::string policy_scope_digest;
};

struct RetrieveRequest {
  RequestEnvelope envelope;
  uint64_t required_generation = 0;  // 0: whatever is current
  std::string source_snapshot_id;
  absl::Span<const float> query;
  uint32_t top_k = 0;
  uint32_t candidate_budget = 0;  // raised to top_k when lower
};

struct RetrieveResult {
  uint64_t generation = 0;
  std::vector<std::pair<Id128, float>> candidates;  // ascending distance, at most top_k
  uint32_t budget = 0;                              // candidates searched for
  uint32_t searched = 0;                            // candidates the search returned
  uint64_t search_us = 0;
  std::vector<std::string> warnings;
  std::string evidence_digest;
};

struct IngestRequest {
  RequestEnvelope envelope;
  uint64_t index_generation = 0;  // names the batch (OperationId); not a pin
  std::string source_snapshot_id;
  uint64_t batch_sequence = 0;
  std::vector<Id128> ids;
  absl::Span<const float> vectors;  // ids.size() x dimension, row-major
};

struct IngestResult {
  std::string operation_id;
  bool applied = false;  // false: a repeat, answered with the first application's figures
  uint32_t inserted_count = 0;
  uint64_t generation = 0;
};

class RetrievalStore {
 public:
  // Pointers are not owned and must outlive the store.
  RetrievalStore(storage::Store* store, vector::VectorIndexStore* indexes, TokenSigner signer);

  const TokenSigner& signer() const { return signer_; }

  // Binds `object_id` to the tenant's index `name`. Upstream's refusals are FAILED_PRECONDITION
  // with its texts: "index_object_id must not be zero", "Index '<name>' not found", "object id
  // is already bound to a different index ('<tenant>:<other>')". Binding the same id to the
  // same name again succeeds (and follows a re-creation of the name).
  absl::Status Bind(const std::string& tenant, const Id128& object_id, const std::string& name);

  absl::StatusOr<RetrieveResult> Retrieve(const std::string& tenant, uint64_t now_unix_ms,
                                          const RetrieveRequest& request) const;
  absl::StatusOr<IngestResult> Ingest(const std::string& tenant, uint64_t now_unix_ms,
                                      const IngestRequest& request);

 private:
  struct Binding {
    std::string name;
    uint64_t incarnation = 0;
  };
  struct Applied {
    uint32_t inserted_count = 0;
    uint64_t generation = 0;
  };

  // The envelope's checks through the token: contract, deadline, object id, binding, token.
  absl::StatusOr<Binding> Admit(const std::string& tenant, uint64_t now_unix_ms,
                                const RequestEnvelope& envelope, Operation operation) const;
  // NOT_FOUND "index object 0x... is not bound to any index".
  absl::StatusOr<Binding> Resolve(const std::string& tenant, const Id128& object_id) const;
  // The bound index, or NOT_FOUND "Index '<tenant>:<name>' is not served" when it was dropped
  // (or dropped and created again) since the binding.
  absl::StatusOr<vector::VectorIndexDefinition> Served(const std::string& tenant,
                                                       const Binding& binding) const;
  absl::StatusOr<std::optional<Applied>> FindApplied(const std::string& tenant,
                                                     const std::string& operation_id) const;

  storage::Store* const store_;
  vector::VectorIndexStore* const indexes_;
  const TokenSigner signer_;
  // Serialises binds: the check for an existing binding and the write are one step.
  absl::Mutex bind_mu_;
};

}  // namespace sochdb::retrieval

#endif  // SOCHDB_ENGINE_RETRIEVAL_RETRIEVAL_STORE_H_
