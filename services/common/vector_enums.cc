#include "services/common/vector_enums.h"

#include "absl/strings/str_cat.h"

namespace sochdb::services {

absl::StatusOr<vector::Metric> ToMetric(v1::DistanceMetric metric) {
  switch (metric) {
    case v1::DISTANCE_METRIC_UNSPECIFIED:
    case v1::DISTANCE_METRIC_COSINE:
      return vector::Metric::kCosine;
    case v1::DISTANCE_METRIC_L2:
      return vector::Metric::kL2;
    case v1::DISTANCE_METRIC_DOT_PRODUCT:
      return vector::Metric::kDot;
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("metric ", static_cast<int>(metric), " is not a known DistanceMetric"));
}

absl::StatusOr<vector::Quantization> ToQuantization(v1::Quantization quantization) {
  switch (quantization) {
    case v1::QUANTIZATION_NONE:
      return vector::Quantization::kNone;
    case v1::QUANTIZATION_SCALAR:
      return vector::Quantization::kScalar8;
    case v1::QUANTIZATION_PQ:
      return vector::Quantization::kProduct;
    default:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "quantization ", static_cast<int>(quantization), " is not a known Quantization"));
}

v1::Quantization FromQuantization(vector::Quantization quantization) {
  switch (quantization) {
    case vector::Quantization::kNone:
      return v1::QUANTIZATION_NONE;
    case vector::Quantization::kScalar8:
      return v1::QUANTIZATION_SCALAR;
    case vector::Quantization::kProduct:
      return v1::QUANTIZATION_PQ;
  }
  return v1::QUANTIZATION_NONE;
}

}  // namespace sochdb::services
