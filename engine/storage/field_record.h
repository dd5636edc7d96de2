// The one format of definition records (a collection's, a vector index's): "name=value" fields
// separated by single spaces, numbers in decimal, bytes in lowercase hex, so a definition reads
// in a dump of the store and a new field is one more pair. A name-to-bytes map is one field per
// entry: "<prefix>.<hex key>=<hex value>". The encoder writes fields in call order; the decoder
// takes them in any order and answers DATA_LOSS (naming the record and the field) for anything
// it cannot read: a field without '=', a name given twice, a missing or malformed field.
#ifndef SOCHDB_ENGINE_STORAGE_FIELD_RECORD_H_
#define SOCHDB_ENGINE_STORAGE_FIELD_RECORD_H_

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sochdb::storage {

class FieldRecordWriter {
 public:
  FieldRecordWriter& Number(std::string_view name, uint64_t value);
  FieldRecordWriter& Signed(std::string_view name, int64_t value);
  FieldRecordWriter& Bytes(std::string_view name, std::string_view value);
  FieldRecordWriter& Map(std::string_view prefix, const std::map<std::string, std::string>& map);

  std::string Build() && { return std::move(text_); }

 private:
  void Name(std::string_view name);  // the separator, the name and '='

  std::string text_;
};

class FieldRecord {
 public:
  // `what` names the record in messages ("collection definition").
  static absl::StatusOr<FieldRecord> Parse(std::string_view text, std::string_view what);

  // Each getter answers DATA_LOSS "<what> lacks the field <name>" or "<what> holds a malformed
  // field <name>" (not a number, out of [min, max], not lowercase hex).
  absl::Status Number(std::string_view name, uint64_t* value, uint64_t min = 0,
                      uint64_t max = std::numeric_limits<uint64_t>::max()) const;
  // Number() into a uint32_t, which bounds it.
  absl::Status Number32(std::string_view name, uint32_t* value) const;
  absl::Status Signed32(std::string_view name, int32_t* value) const;
  absl::Status Bytes(std::string_view name, std::string* value) const;
  // The entries written by FieldRecordWriter::Map(prefix, ...); none is an empty map.
  absl::Status Map(std::string_view prefix, std::map<std::string, std::string>* map) const;

  // DATA_LOSS "<what> <text>", for the owner's own checks of what it read.
  absl::Status Damaged(std::string_view text) const;

 private:
  FieldRecord(std::string_view what) : what_(what) {}
  absl::StatusOr<std::string_view> Find(std::string_view name) const;
  absl::Status Malformed(std::string_view name) const;

  std::string what_;
  std::map<std::string, std::string, std::less<>> fields_;
};

}  // namespace sochdb::storage

#endif  // SOCHDB_ENGINE_STORAGE_FIELD_RECORD_H_
