// The Bm25Fixture helpers. Raw records are decoded here independently of bm25_index.cc, from the
// layout its header documents.
#include "tests/engine/text/bm25_test_util.h"

#include <catch2/catch.hpp>

#include "engine/storage/keys.h"
#include "leveldb/helpers/memenv.h"

namespace sochdb::text::testing {
namespace {

constexpr char kPath[] = "/mem/bm25";

uint64_t ReadVarint(std::string_view* in) {
  uint64_t value = 0;
  for (int shift = 0; !in->empty(); shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  FAIL("truncated varint");
  return 0;
}

}  // namespace

Bm25Fixture::Bm25Fixture() : mem_env(leveldb::NewMemEnv(leveldb::Env::Default())) { Reopen(); }

Bm25Fixture::~Bm25Fixture() {
  index.reset();
  store.reset();
}

std::string Bm25Fixture::Scope(std::string_view ns, std::string_view collection) {
  return storage::KeyBuilder(storage::KeyFamily::kPosting).Name(ns).Name(collection).key();
}

void Bm25Fixture::Reopen() {
  index.reset();
  store.reset();
  storage::StoreOptions options;
  options.env = mem_env.get();
  absl::StatusOr<std::unique_ptr<storage::Store>> opened = storage::Store::Open(kPath, options);
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  store = std::move(opened).value();
  index = OpenIndex(Scope());
}

std::unique_ptr<Bm25Index> Bm25Fixture::OpenIndex(const std::string& scope) {
  absl::StatusOr<std::unique_ptr<Bm25Index>> opened = Bm25Index::Open(store.get(), scope);
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  return std::move(opened).value();
}

void Bm25Fixture::Add(std::string_view doc_id, std::string_view content) {
  storage::WriteBatch batch;
  index->AddDocument(&batch, doc_id, content);
  REQUIRE(store->Write(&batch).ok());
  index->Commit();
}

void Bm25Fixture::Remove(std::string_view doc_id, std::string_view content) {
  storage::WriteBatch batch;
  index->RemoveDocument(&batch, doc_id, content);
  REQUIRE(store->Write(&batch).ok());
  index->Commit();
}

void Bm25Fixture::Update(std::string_view doc_id, std::string_view old_content,
                         std::string_view content) {
  storage::WriteBatch batch;
  index->RemoveDocument(&batch, doc_id, old_content);
  index->AddDocument(&batch, doc_id, content);
  REQUIRE(store->Write(&batch).ok());
  index->Commit();
}

std::vector<ScoredDoc> Bm25Fixture::Search(std::string_view query, size_t k,
                                           const std::function<bool(std::string_view)>* filter) {
  absl::StatusOr<std::vector<ScoredDoc>> results = index->Search(query, k, filter);
  INFO(results.status().ToString());
  REQUIRE(results.ok());
  return std::move(results).value();
}

std::map<std::pair<std::string, std::string>, std::pair<uint64_t, uint64_t>>
Bm25Fixture::Postings() {
  const std::string scope = Scope();
  const std::string stats_key = Bm25Index::StatsKey(scope);
  std::map<std::pair<std::string, std::string>, std::pair<uint64_t, uint64_t>> postings;
  std::unique_ptr<storage::Iterator> it = store->NewIterator();
  for (it->Seek(scope); it->Valid() && it->key().substr(0, scope.size()) == scope; it->Next()) {
    if (it->key() == stats_key) continue;
    // KeyReader parses whole keys: give it a family byte, then what follows the scope.
    const std::string tail = std::string(1, static_cast<char>(storage::KeyFamily::kPosting)) +
                             std::string(it->key().substr(scope.size()));
    storage::KeyReader reader(tail);
    storage::KeyFamily family;
    std::string_view term;
    REQUIRE((reader.Family(&family) && reader.Name(&term)));
    std::string_view value = it->value();
    const uint64_t frequency = ReadVarint(&value);
    const uint64_t length = ReadVarint(&value);
    REQUIRE(value.empty());
    postings[{std::string(term), std::string(reader.Rest())}] = {frequency, length};
  }
  REQUIRE(it->status().ok());
  return postings;
}

std::optional<std::pair<uint64_t, uint64_t>> Bm25Fixture::Posting(const std::string& term,
                                                                  const std::string& doc_id) {
  const auto postings = Postings();
  const auto it = postings.find({term, doc_id});
  if (it == postings.end()) return std::nullopt;
  return it->second;
}

Bm25Stats Bm25Fixture::StoredStats() {
  absl::StatusOr<std::optional<std::string>> record = store->Get(Bm25Index::StatsKey(Scope()));
  REQUIRE(record.ok());
  if (!record->has_value()) return Bm25Stats{};
  std::string_view value = **record;
  REQUIRE(!value.empty());
  REQUIRE(value[0] == '\x01');
  value.remove_prefix(1);
  Bm25Stats stats;
  stats.document_count = ReadVarint(&value);
  stats.total_tokens = ReadVarint(&value);
  REQUIRE(value.empty());
  return stats;
}

size_t Bm25Fixture::KeysUnder(const std::string& scope) {
  size_t count = 0;
  std::unique_ptr<storage::Iterator> it = store->NewIterator();
  for (it->Seek(scope); it->Valid() && it->key().substr(0, scope.size()) == scope; it->Next()) {
    ++count;
  }
  REQUIRE(it->status().ok());
  return count;
}

}  // namespace sochdb::text::testing
