// MetadataFilter: the metadata conditions of a search or list request (vector, hybrid and BM25
// search, collection queries), parsed once from client JSON and then evaluated against each
// candidate document's metadata (a std::map of string keys to string values).
//
// Syntax (MongoDB style):
//   {"genre": "scifi"}                         shorthand for {"genre": {"$eq": "scifi"}}
//   {"year": {"$gte": 2000, "$lt": 2010}}      several operators on one field: all must hold
//   {"a": 1, "b": 2}                           several top-level keys: all must hold
//   {"$and": [f, ...]}  {"$or": [f, ...]}      non-empty arrays of filters
//   {"$not": f}                                f is a filter object
//   {"year": {"$not": {"$gt": 2000}}}          $not on one field takes an operator object
//                                              (or a value, meaning $eq)
//   operators: $eq $ne $gt $gte $lt $lte $in $nin ($in and $nin take arrays)
//   {} matches every document.
//
// Semantics:
//   - A string operand compares bytewise with the metadata value ("10" < "9").
//   - A number operand compares numerically: the metadata value matches only when the whole
//     string parses as a finite decimal number (std::from_chars general format: "42", "-3.5",
//     "1e6", ".5"; not "+1", " 1", "0x1", "inf"). So {"n": {"$gt": 9}} matches "10", and
//     {"n": 10} matches "10", "10.0" and "1e1".
//   - A boolean operand matches the metadata strings "true" / "false" exactly.
//   - null is allowed with $eq, $ne, $in and $nin and stands for "the field is missing":
//     {"x": null} matches documents without x; {"x": {"$ne": null}} those with it.
//   - A missing field fails $eq, $gt, $gte, $lt, $lte and $in (unless null is listed), and
//     satisfies $ne and $nin (the MongoDB convention): $ne is exactly "not $eq" and $nin "not
//     $in", and $not negates its whole filter, so {"$not": {"y": {"$gt": 1}}} matches a missing y.
//   - $gt, $gte, $lt and $lte need a string or number operand.
//
// Limits (each violation is INVALID_ARGUMENT naming the path and the limit): the JSON text is at
// most kMaxFilterBytes; arrays and objects nest at most kMaxFilterDepth levels; at most
// kMaxFilterConditions conditions (each comparison, each $and/$or/$not and each implicit AND of
// several keys or operators counts one); $in/$nin
// arrays hold at most kMaxInItems values; keys appear once per object. Paths look like
// "filter.$and[2].year".
//
// Thread safety: a MetadataFilter is immutable after construction; Matches may be called from
// any number of threads at once. Copies are cheap (they share the compiled conditions).
#ifndef SOCHDB_ENGINE_FILTER_METADATA_FILTER_H_
#define SOCHDB_ENGINE_FILTER_METADATA_FILTER_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sochdb::filter {

inline constexpr size_t kMaxFilterBytes = 16 * 1024;
inline constexpr size_t kMaxFilterDepth = 32;
inline constexpr size_t kMaxFilterConditions = 1024;
inline constexpr size_t kMaxInItems = 1024;

class MetadataFilter {
 public:
  struct Program;  // the compiled conditions (defined in metadata_filter.cc)

  // The filter that matches every document.
  MetadataFilter();

  // Parses and compiles a JSON filter (syntax above). INVALID_ARGUMENT for bad input, e.g.
  //   "filter: 20000 bytes; the limit is 16384 bytes"
  //   "filter: invalid JSON at byte 17: expected ':' after an object key"
  //   "filter: nested deeper than 32 levels"
  //   "filter: unknown operator $regex"
  //   "filter.$and[2].year: $gt needs a number or string"
  //   "filter.tags: $in holds 2000 values; the limit is 1024"
  // Rejects oversized input before reading it, and never recurses deeper than the depth limit.
  // `field` is the request field the errors name in place of "filter" (e.g. "node_filter").
  static absl::StatusOr<MetadataFilter> Parse(std::string_view json,
                                              std::string_view field = "filter");

  // The upstream exact-match filter: every (key, value) pair must be present with an equal
  // string. An empty map matches every document.
  static MetadataFilter ExactMatch(const std::map<std::string, std::string>& pairs);

  // Whether `metadata` satisfies the filter. Does not allocate: fields are looked up by the
  // compiled std::string keys and numbers are read with std::from_chars.
  bool Matches(const std::map<std::string, std::string>& metadata) const;

  // True for the filter that accepts everything (default-constructed, {} or an empty ExactMatch):
  // callers may skip reading metadata.
  bool MatchesEverything() const;

 private:
  explicit MetadataFilter(std::shared_ptr<const Program> program);

  std::shared_ptr<const Program> program_;  // nullptr = match everything
};

}  // namespace sochdb::filter

#endif  // SOCHDB_ENGINE_FILTER_METADATA_FILTER_H_
