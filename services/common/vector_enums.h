// The proto enums both vector services share (DistanceMetric, Quantization), mapped to the
// engine's types once, so VectorIndexService and CollectionService agree on them.
#ifndef SOCHDB_SERVICES_COMMON_VECTOR_ENUMS_H_
#define SOCHDB_SERVICES_COMMON_VECTOR_ENUMS_H_

#include "absl/status/statusor.h"
#include "engine/vector/ann_index.h"
#include "sochdb/v1/common.pb.h"

namespace sochdb::services {

// UNSPECIFIED is built as cosine (upstream's behaviour); an unknown value is INVALID_ARGUMENT.
absl::StatusOr<vector::Metric> ToMetric(v1::DistanceMetric metric);
absl::StatusOr<vector::Quantization> ToQuantization(v1::Quantization quantization);
v1::Quantization FromQuantization(vector::Quantization quantization);

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_COMMON_VECTOR_ENUMS_H_
