// A test fixture for Bm25Index: an in-memory Store (leveldb memenv) that can be closed and
// reopened, one index over the default scope, write helpers that commit one document per batch,
// and readers of the raw posting and statistics records for exactness checks.
#ifndef SOCHDB_TESTS_ENGINE_TEXT_BM25_TEST_UTIL_H_
#define SOCHDB_TESTS_ENGINE_TEXT_BM25_TEST_UTIL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/storage/store.h"
#include "engine/text/bm25_index.h"
#include "leveldb/env.h"

namespace sochdb::text::testing {

struct Bm25Fixture {
  Bm25Fixture();
  ~Bm25Fixture();

  // KeyBuilder(kPosting).Name(ns).Name(collection).
  static std::string Scope(std::string_view ns = "ns", std::string_view collection = "docs");

  // Closes the index and the Store, then opens both again over the same in-memory files.
  void Reopen();
  std::unique_ptr<Bm25Index> OpenIndex(const std::string& scope);

  // Each writes one batch and commits it (REQUIREs the write to succeed).
  void Add(std::string_view doc_id, std::string_view content);
  void Remove(std::string_view doc_id, std::string_view content);
  void Update(std::string_view doc_id, std::string_view old_content, std::string_view content);

  std::vector<ScoredDoc> Search(std::string_view query, size_t k,
                                const std::function<bool(std::string_view)>* filter = nullptr);

  // Every posting under Scope(): (term, doc_id) -> (term frequency, document length).
  std::map<std::pair<std::string, std::string>, std::pair<uint64_t, uint64_t>> Postings();
  size_t PostingCount() { return Postings().size(); }
  std::optional<std::pair<uint64_t, uint64_t>> Posting(const std::string& term,
                                                       const std::string& doc_id);
  // The statistics record as stored (zero when absent).
  Bm25Stats StoredStats();
  // The number of keys starting with `scope`.
  size_t KeysUnder(const std::string& scope);

  std::unique_ptr<leveldb::Env> mem_env;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<Bm25Index> index;
};

}  // namespace sochdb::text::testing

#endif  // SOCHDB_TESTS_ENGINE_TEXT_BM25_TEST_UTIL_H_
