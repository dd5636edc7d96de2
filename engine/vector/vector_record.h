// The on-disk encodings of a vector space: the vector record (format byte, the vector as
// little-endian floats, then the caller's extra bytes), the change-log entry (op byte, id), and
// the index spec's fields in a definition record (storage/field_record.h), which collections
// and vector indexes store alike. Decoders check sizes and never read past the input: a
// malformed record is DATA_LOSS.
#ifndef SOCHDB_ENGINE_VECTOR_VECTOR_RECORD_H_
#define SOCHDB_ENGINE_VECTOR_VECTOR_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/storage/field_record.h"
#include "engine/vector/ann_index.h"

namespace sochdb::vector {

// The longest vector id (collections' document ids included).
inline constexpr size_t kMaxVectorIdBytes = 1024;

inline constexpr char kLogUpsert = 'u';
inline constexpr char kLogDelete = 'd';

std::string EncodeVectorRecord(absl::Span<const float> vector, std::string_view extra);
absl::Status DecodeVectorRecord(std::string_view record, uint32_t dimension,
                                std::vector<float>* vector, std::string* extra);
// The extra bytes of a record without copying the vector.
absl::Status VectorRecordExtra(std::string_view record, uint32_t dimension,
                               std::string_view* extra);

std::string EncodeLogEntry(char op, std::string_view id);
absl::Status DecodeLogEntry(std::string_view entry, char* op, std::string_view* id);

// Writes a resolved spec as the fields dimension, metric, quantization, m, m0, ef_construction,
// ef_search, pq_subvectors, exact_threshold (in that order: the bytes of records written before
// this codec was shared depend on it).
void WriteSpecFields(const IndexSpec& spec, storage::FieldRecordWriter* out);
// DATA_LOSS for a missing, malformed or out-of-range field, or a spec that no longer resolves
// (it was resolved before it was stored).
absl::Status ReadSpecFields(const storage::FieldRecord& in, IndexSpec* spec);

}  // namespace sochdb::vector

#endif  // SOCHDB_ENGINE_VECTOR_VECTOR_RECORD_H_
