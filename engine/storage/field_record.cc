// The definition-record format behind field_record.h.
#include "engine/storage/field_record.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/common/absl_view.h"
#include "engine/common/hex.h"

namespace sochdb::storage {

void FieldRecordWriter::Name(std::string_view name) {
  if (!text_.empty()) text_.push_back(' ');
  absl::StrAppend(&text_, AbslView(name), "=");
}

FieldRecordWriter& FieldRecordWriter::Number(std::string_view name, uint64_t value) {
  Name(name);
  absl::StrAppend(&text_, value);
  return *this;
}

FieldRecordWriter& FieldRecordWriter::Signed(std::string_view name, int64_t value) {
  Name(name);
  absl::StrAppend(&text_, value);
  return *this;
}

FieldRecordWriter& FieldRecordWriter::Bytes(std::string_view name, std::string_view value) {
  Name(name);
  text_.append(BytesToHex(value));
  return *this;
}

FieldRecordWriter& FieldRecordWriter::Map(std::string_view prefix,
                                          const std::map<std::string, std::string>& map) {
  for (const auto& [key, value] : map) {
    Name(absl::StrCat(AbslView(prefix), ".", BytesToHex(key)));
    text_.append(BytesToHex(value));
  }
  return *this;
}

absl::StatusOr<FieldRecord> FieldRecord::Parse(std::string_view text, std::string_view what) {
  FieldRecord record(what);
  for (absl::string_view pair : absl::StrSplit(AbslView(text), ' ', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    if (eq == absl::string_view::npos) return record.Damaged("holds a field without '='");
    std::string name(pair.substr(0, eq));
    if (!record.fields_.emplace(name, std::string(pair.substr(eq + 1))).second) {
      return record.Damaged(absl::StrCat("holds the field ", name, " twice"));
    }
  }
  return record;
}

absl::StatusOr<std::string_view> FieldRecord::Find(std::string_view name) const {
  auto it = fields_.find(name);
  if (it == fields_.end()) return Damaged(absl::StrCat("lacks the field ", AbslView(name)));
  return std::string_view(it->second);
}

absl::Status FieldRecord::Malformed(std::string_view name) const {
  return Damaged(absl::StrCat("holds a malformed field ", AbslView(name)));
}

absl::Status FieldRecord::Damaged(std::string_view text) const {
  return absl::DataLossError(absl::StrCat(what_, " ", AbslView(text)));
}

absl::Status FieldRecord::Number(std::string_view name, uint64_t* value, uint64_t min,
                                 uint64_t max) const {
  absl::StatusOr<std::string_view> text = Find(name);
  if (!text.ok()) return text.status();
  uint64_t number = 0;
  if (!absl::SimpleAtoi(AbslView(*text), &number) || number < min || number > max) {
    return Malformed(name);
  }
  *value = number;
  return absl::OkStatus();
}

absl::Status FieldRecord::Number32(std::string_view name, uint32_t* value) const {
  uint64_t number = 0;
  absl::Status read = Number(name, &number, 0, std::numeric_limits<uint32_t>::max());
  if (read.ok()) *value = static_cast<uint32_t>(number);
  return read;
}

absl::Status FieldRecord::Signed32(std::string_view name, int32_t* value) const {
  absl::StatusOr<std::string_view> text = Find(name);
  if (!text.ok()) return text.status();
  if (!absl::SimpleAtoi(AbslView(*text), value)) return Malformed(name);
  return absl::OkStatus();
}

absl::Status FieldRecord::Bytes(std::string_view name, std::string* value) const {
  absl::StatusOr<std::string_view> text = Find(name);
  if (!text.ok()) return text.status();
  if (!HexToBytes(*text, value)) return Malformed(name);
  return absl::OkStatus();
}

absl::Status FieldRecord::Map(std::string_view prefix,
                              std::map<std::string, std::string>* map) const {
  const std::string start = absl::StrCat(AbslView(prefix), ".");
  map->clear();
  for (auto it = fields_.lower_bound(start); it != fields_.end() && it->first.rfind(start, 0) == 0;
       ++it) {
    std::string key, value;
    if (!HexToBytes(std::string_view(it->first).substr(start.size()), &key) ||
        !HexToBytes(it->second, &value)) {
      return Malformed(it->first);
    }
    (*map)[std::move(key)] = std::move(value);
  }
  return absl::OkStatus();
}

}  // namespace sochdb::storage
