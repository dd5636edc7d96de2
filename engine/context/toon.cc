// The layout half of the TOON encoder: which form each object and array takes (§8-§10) and
// where its lines go. Scalars are written by toon_scalars.cc.
#include "engine/context/toon.h"

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/utf8.h"
#include "engine/context/toon_scalars.h"

namespace sochdb::context {
namespace {

using toon_internal::AppendDouble;
using toon_internal::AppendInteger;
using toon_internal::AppendKey;
using toon_internal::AppendStringValue;
using toon_internal::AppendUnsigned;
using toon_internal::IsIdentifierSegment;

char DelimiterChar(ToonDelimiter delimiter) {
  switch (delimiter) {
    case ToonDelimiter::kComma:
      return ',';
    case ToonDelimiter::kTab:
      return '\t';
    case ToonDelimiter::kPipe:
      return '|';
  }
  return ',';
}

// One encoding: the output so far and the first error. Every layout function writes whole lines
// and returns early once `status_` holds an error, so the first error is the one reported.
template <typename Json>
class ToonWriter {
 public:
  explicit ToonWriter(const ToonOptions& options)
      : options_(options), delimiter_(DelimiterChar(options.delimiter)) {}

  absl::StatusOr<std::string> Encode(const Json& value) {
    if (value.is_object()) {
      const std::string root_path;
      if (options_.fold_keys) {
        for (auto it = value.begin(); it != value.end(); ++it) {
          if (it.key().find('.') != std::string::npos) root_dotted_keys_.insert(it.key());
        }
      }
      WriteFields(value, 0, 1, options_.flatten_depth, &root_path);
    } else if (value.is_array()) {
      WriteArray(nullptr, value, 0, 1, /*list_item=*/false);
    } else {
      AppendPrimitive(value);
    }
    if (!status_.ok()) return status_;
    return std::move(out_);
  }

 private:
  // Starts a line at `depth`. A pending list-item hyphen (SetHyphen) replaces this line's
  // indentation by "- " at the hyphen's depth: an object or array that is a list item puts its
  // first line on the hyphen line (§9.4, §10).
  void StartLine(int depth) {
    if (!out_.empty()) out_.push_back('\n');
    if (hyphen_depth_ >= 0) {
      out_.append(static_cast<size_t>(hyphen_depth_ * options_.indent), ' ');
      out_.append("- ");
      hyphen_depth_ = -1;
      return;
    }
    out_.append(static_cast<size_t>(depth * options_.indent), ' ');
  }

  void SetHyphen(int depth) { hyphen_depth_ = depth; }

  // False (and the error recorded) when a container at `level` is too deep.
  bool EnterContainer(int level) {
    if (!status_.ok()) return false;
    if (level <= kMaxToonDepth) return true;
    status_ = absl::InvalidArgumentError(absl::StrCat(
        "TOON input nests deeper than ", kMaxToonDepth, " levels of arrays and objects"));
    return false;
  }

  bool CheckUtf8(std::string_view text, const char* what) {
    const size_t at = FindInvalidUtf8(text);
    if (at == std::string_view::npos) return true;
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(absl::StrCat(
          "TOON input: ", what, " is not valid UTF-8 (byte ", at, " of ", text.size(), ")"));
    }
    return false;
  }

  void AppendPrimitive(const Json& value) {
    switch (value.type()) {
      case nlohmann::json::value_t::null:
        out_.append("null");
        return;
      case nlohmann::json::value_t::boolean:
        out_.append(value.template get<bool>() ? "true" : "false");
        return;
      case nlohmann::json::value_t::number_integer:
        return AppendInteger(value.template get<int64_t>(), &out_);
      case nlohmann::json::value_t::number_unsigned:
        return AppendUnsigned(value.template get<uint64_t>(), &out_);
      case nlohmann::json::value_t::number_float:
        return AppendDouble(value.template get<double>(), &out_);
      case nlohmann::json::value_t::string: {
        const std::string& text = value.template get_ref<const std::string&>();
        if (CheckUtf8(text, "a string")) AppendStringValue(text, delimiter_, &out_);
        return;
      }
      default:
        if (status_.ok()) {
          status_ = absl::InvalidArgumentError(
              absl::StrCat("TOON input holds a ", value.type_name(), " value, which is not JSON"));
        }
    }
  }

  void AppendFieldKey(const std::string& key) {
    if (CheckUtf8(key, "an object key")) AppendKey(key, &out_);
  }

  // `key[N<delim>]{f1<delim>f2}:` (§6); no key at the root and in list items, no fields unless
  // tabular.
  void AppendHeader(const std::string* key, size_t length,
                    const std::vector<const std::string*>* fields) {
    if (key != nullptr) AppendFieldKey(*key);
    out_.push_back('[');
    out_.append(std::to_string(length));
    if (delimiter_ != ',') out_.push_back(delimiter_);
    out_.push_back(']');
    if (fields != nullptr) {
      out_.push_back('{');
      for (size_t i = 0; i < fields->size(); ++i) {
        if (i > 0) out_.push_back(delimiter_);
        AppendFieldKey(*(*fields)[i]);
      }
      out_.push_back('}');
    }
    out_.push_back(':');
  }

  // The object's fields at `depth`. For key folding (§13.4): `flatten_left` is how many
  // segments a folded key may still take (a fold's remainder folds only within what its chain
  // left), and `path` the object's dotted path from the root (nullptr inside arrays), so that no
  // fold writes a path a dotted root key already names — a decoder expanding paths would merge
  // the two.
  void WriteFields(const Json& object, int depth, int level, int flatten_left,
                   const std::string* path) {
    if (!EnterContainer(level)) return;
    for (auto it = object.begin(); it != object.end() && status_.ok(); ++it) {
      if (options_.fold_keys &&
          TryFold(object, it.key(), it.value(), depth, level, flatten_left, path)) {
        continue;
      }
      WriteField(it.key(), it.value(), depth, level, flatten_left, path);
    }
  }

  void WriteField(const std::string& key, const Json& value, int depth, int level, int flatten_left,
                  const std::string* path) {
    if (value.is_array()) return WriteArray(&key, value, depth, level + 1, false);
    StartLine(depth);
    AppendFieldKey(key);
    out_.push_back(':');
    if (value.is_object()) {
      if (path == nullptr) return WriteFields(value, depth + 1, level + 1, flatten_left, nullptr);
      const std::string child = path->empty() ? key : absl::StrCat(*path, ".", key);
      return WriteFields(value, depth + 1, level + 1, flatten_left, &child);
    }
    out_.push_back(' ');
    AppendPrimitive(value);
  }

  // Key folding (§13.4): writes `key`'s single-key chain as one dotted field and returns true,
  // or returns false (writing nothing) when the chain cannot fold safely.
  bool TryFold(const Json& object, const std::string& key, const Json& value, int depth, int level,
               int flatten_left, const std::string* path) {
    std::string folded = key;
    const Json* leaf = &value;
    int segments = 1;
    bool identifiers = IsIdentifierSegment(key);
    while (segments < flatten_left && leaf->is_object() && leaf->size() == 1) {
      identifiers = identifiers && IsIdentifierSegment(leaf->begin().key());
      absl::StrAppend(&folded, ".", leaf->begin().key());
      leaf = &leaf->begin().value();
      ++segments;
    }
    if (segments < 2 || !identifiers || object.contains(folded)) return false;
    if (path != nullptr &&
        root_dotted_keys_.count(path->empty() ? folded : absl::StrCat(*path, ".", folded)) > 0) {
      return false;
    }
    // The chain's objects sit at level + 1 .. level + segments - 1: they count as nesting too.
    if (!EnterContainer(level + segments - 1)) return true;
    WriteField(folded, *leaf, depth, level + segments - 1, flatten_left - segments, path);
    return true;
  }

  // An array as a field (`key` set), at the root, or as a list item (`list_item`: its header
  // goes on the pending hyphen line and it may not be tabular, §9.4).
  void WriteArray(const std::string* key, const Json& array, int depth, int level, bool list_item) {
    if (!EnterContainer(level)) return;
    StartLine(depth);
    if (array.empty() && !list_item) {
      if (key != nullptr) {
        AppendFieldKey(*key);
        out_.append(": ");
      }
      out_.append("[]");
      return;
    }
    if (AllPrimitive(array)) return WriteInline(key, array);
    std::vector<const std::string*> fields;
    if (!list_item && TabularFields(array, &fields)) {
      AppendHeader(key, array.size(), &fields);
      return WriteRows(array, fields, depth + 1);
    }
    AppendHeader(key, array.size(), nullptr);
    for (const Json& item : array) {
      if (!status_.ok()) return;
      WriteListItem(item, depth + 1, level);
    }
  }

  static bool AllPrimitive(const Json& array) {
    for (const Json& item : array) {
      if (!item.is_primitive()) return false;
    }
    return true;
  }

  // `key[N]: v1,v2` on the current line (§9.1).
  void WriteInline(const std::string* key, const Json& array) {
    AppendHeader(key, array.size(), nullptr);
    for (size_t i = 0; i < array.size(); ++i) {
      out_.push_back(i == 0 ? ' ' : delimiter_);
      AppendPrimitive(array[i]);
    }
  }

  // True, with the first object's keys in `fields`, when every item is a non-empty object with
  // the same key set and only primitive values (§9.3).
  static bool TabularFields(const Json& array, std::vector<const std::string*>* fields) {
    const Json& first = array.front();
    if (!first.is_object() || first.empty()) return false;
    for (auto it = first.begin(); it != first.end(); ++it) fields->push_back(&it.key());
    for (const Json& row : array) {
      if (!row.is_object() || row.size() != fields->size()) return false;
      for (const std::string* field : *fields) {
        const auto cell = row.find(*field);
        if (cell == row.end() || !cell->is_primitive()) return false;
      }
    }
    return true;
  }

  void WriteRows(const Json& rows, const std::vector<const std::string*>& fields, int depth) {
    for (const Json& row : rows) {
      StartLine(depth);
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) out_.push_back(delimiter_);
        AppendPrimitive(*row.find(*fields[i]));
      }
    }
  }

  // One `- ` item of an expanded list at `depth`; `level` is the enclosing array's.
  void WriteListItem(const Json& item, int depth, int level) {
    if (item.is_array()) {
      SetHyphen(depth);
      return WriteArray(nullptr, item, depth, level + 1, /*list_item=*/true);
    }
    if (item.is_object() && !item.empty()) {
      // §10: the first field on the hyphen line, the others one level in; a tabular first
      // field's rows two levels in, which is where a field one level in puts them.
      SetHyphen(depth);
      return WriteFields(item, depth + 1, level + 1, options_.flatten_depth, nullptr);
    }
    StartLine(depth);
    if (item.is_object()) {
      out_.push_back('-');  // an empty object
      return;
    }
    out_.append("- ");
    AppendPrimitive(item);
  }

  const ToonOptions& options_;
  const char delimiter_;
  std::string out_;
  absl::Status status_;
  int hyphen_depth_ = -1;                   // the depth of a pending list-item hyphen, or -1
  std::set<std::string> root_dotted_keys_;  // the root object's keys holding a '.' (folding)
};

template <typename Json>
absl::StatusOr<std::string> Encode(const Json& value, const ToonOptions& options) {
  if (options.indent < 1 || options.indent > kMaxToonIndent) {
    return absl::InvalidArgumentError(
        absl::StrCat("ToonOptions.indent is ", options.indent, "; it must be 1..", kMaxToonIndent));
  }
  return ToonWriter<Json>(options).Encode(value);
}

}  // namespace

absl::StatusOr<std::string> EncodeToon(const nlohmann::ordered_json& value,
                                       const ToonOptions& options) {
  return Encode(value, options);
}

absl::StatusOr<std::string> EncodeToon(const nlohmann::json& value, const ToonOptions& options) {
  return Encode(value, options);
}

}  // namespace sochdb::context
