// Sizes of protobuf messages as parts of an answer, for charging an AnswerBudget
// (engine/common/answer_budget.h) while the answer is built.
#ifndef SOCHDB_SERVICES_COMMON_ENCODED_SIZE_H_
#define SOCHDB_SERVICES_COMMON_ENCODED_SIZE_H_

#include <cstddef>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/message.h"

namespace sochdb::services {

// The bytes `message` takes as one element of a repeated field of its parent (field numbers
// below 16): tag, length, body.
inline size_t EncodedFieldBytes(const google::protobuf::Message& message) {
  const size_t body = message.ByteSizeLong();
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(body) + body;
}

}  // namespace sochdb::services

#endif  // SOCHDB_SERVICES_COMMON_ENCODED_SIZE_H_
