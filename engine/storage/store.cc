// The LevelDB adapter behind store.h: opening and closing the database, the schema-version check,
// durable writes under the three sync modes (with the background syncer for kNormal), the
// client-facing side of the write fault latch (fault_latch.h sets it from inside the I/O), and
// thin wrappers for snapshots and iterators. leveldb::Status is translated to absl::Status in
// exactly one function here (FromLevelDb); write errors never carry LevelDB's text (it names
// files) to clients: it goes to the server log instead.
#include "engine/storage/store.h"

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "engine/common/status_macros.h"
#include "engine/storage/fault_latch.h"
#include "engine/storage/keys.h"
#include "leveldb/cache.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/filter_policy.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"
#include "leveldb/write_batch.h"
#include "spdlog/spdlog.h"

namespace sochdb::storage {
namespace {

leveldb::Slice ToSlice(std::string_view bytes) {
  return leveldb::Slice(bytes.data(), bytes.size());
}
std::string_view ToView(const leveldb::Slice& slice) { return {slice.data(), slice.size()}; }

// The one translation from LevelDB's status to the engine's. LevelDB has few codes, so the
// message text refines two of them: a held LOCK file (another process owns the database) and a
// missing database opened without create_if_missing.
absl::Status FromLevelDb(const leveldb::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const std::string text = status.ToString();
  const std::string message = absl::StrCat("leveldb: ", text);
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsNotSupportedError()) return absl::UnimplementedError(message);
  if (status.IsIOError()) {
    // PosixEnv::LockFile reports "IO error: lock <dir>/LOCK: <reason>".
    if (absl::StartsWith(text, "IO error: lock ")) return absl::UnavailableError(message);
    return absl::InternalError(message);
  }
  if (status.IsInvalidArgument()) {
    if (absl::StrContains(text, "(create_if_missing is false)")) {
      return absl::FailedPreconditionError(message);
    }
    if (absl::StrContains(text, "(error_if_exists is true)")) {
      return absl::AlreadyExistsError(message);
    }
    return absl::InvalidArgumentError(message);
  }
  return absl::UnknownError(message);
}

class LevelDbSnapshot final : public Snapshot {
 public:
  LevelDbSnapshot(leveldb::DB* db, const leveldb::Snapshot* snapshot)
      : db_(db), snapshot_(snapshot) {}
  ~LevelDbSnapshot() override { db_->ReleaseSnapshot(snapshot_); }

  const leveldb::Snapshot* get() const { return snapshot_; }

 private:
  leveldb::DB* const db_;
  const leveldb::Snapshot* const snapshot_;
};

// Only Store creates Snapshots, so the downcast is safe by construction.
const leveldb::Snapshot* Unwrap(const Snapshot* snapshot) {
  if (snapshot == nullptr) return nullptr;
  return static_cast<const LevelDbSnapshot*>(snapshot)->get();
}

class LevelDbIterator final : public Iterator {
 public:
  explicit LevelDbIterator(leveldb::Iterator* iterator) : iterator_(iterator) {}

  void Seek(std::string_view target) override { iterator_->Seek(ToSlice(target)); }
  void SeekToLast() override { iterator_->SeekToLast(); }
  void Prev() override {
    if (iterator_->Valid()) iterator_->Prev();
  }
  bool Valid() const override { return iterator_->Valid(); }
  // LevelDB asserts on Next()/key() of an invalid iterator; the engine's contract is softer.
  void Next() override {
    if (iterator_->Valid()) iterator_->Next();
  }
  std::string_view key() const override {
    return iterator_->Valid() ? ToView(iterator_->key()) : std::string_view();
  }
  std::string_view value() const override {
    return iterator_->Valid() ? ToView(iterator_->value()) : std::string_view();
  }
  absl::Status status() const override { return FromLevelDb(iterator_->status()); }

 private:
  std::unique_ptr<leveldb::Iterator> iterator_;
};

}  // namespace

absl::StatusOr<SyncMode> ParseSyncMode(std::string_view text) {
  if (text == "full") return SyncMode::kFull;
  if (text == "normal") return SyncMode::kNormal;
  if (text == "off") return SyncMode::kOff;
  return absl::InvalidArgumentError(
      absl::StrFormat("sync mode is \"%s\"; expected full, normal or off",
                      absl::CHexEscape(absl::string_view(text.data(), text.size()))));
}

std::string_view SyncModeName(SyncMode mode) {
  switch (mode) {
    case SyncMode::kFull:
      return "full";
    case SyncMode::kNormal:
      return "normal";
    case SyncMode::kOff:
      return "off";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// WriteBatch

struct WriteBatch::Rep {
  leveldb::WriteBatch batch;
  int count = 0;  // leveldb::WriteBatch keeps its count private
};

WriteBatch::WriteBatch() : rep_(std::make_unique<Rep>()) {}
WriteBatch::~WriteBatch() = default;
// A moved-from batch stays usable (and empty), like a moved-from std::string.
WriteBatch::WriteBatch(WriteBatch&& other) noexcept
    : rep_(std::exchange(other.rep_, std::make_unique<Rep>())) {}
WriteBatch& WriteBatch::operator=(WriteBatch&& other) noexcept {
  std::swap(rep_, other.rep_);
  other.Clear();
  return *this;
}

void WriteBatch::Put(std::string_view key, std::string_view value) {
  rep_->batch.Put(ToSlice(key), ToSlice(value));
  ++rep_->count;
}

void WriteBatch::Delete(std::string_view key) {
  rep_->batch.Delete(ToSlice(key));
  ++rep_->count;
}

void WriteBatch::Clear() {
  rep_->batch.Clear();
  rep_->count = 0;
}

int WriteBatch::Count() const { return rep_->count; }
size_t WriteBatch::ApproximateSize() const { return rep_->batch.ApproximateSize(); }

// ---------------------------------------------------------------------------------------------
// Store::Impl

struct Store::Impl {
  Impl(std::string path_in, const StoreOptions& options_in)
      : path(std::move(path_in)),
        options(options_in),
        env(options_in.env != nullptr ? options_in.env : leveldb::Env::Default()),
        latch(path),
        latching_env(env, &latch) {}

  ~Impl() {
    // LevelDB reads the cache and the filter policy until the DB is closed.
    db.reset();
    block_cache.reset();
    filter_policy.reset();
  }

  absl::Status OpenDb();
  absl::Status CheckSchemaVersion();
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key,
                                                 const leveldb::Snapshot* snapshot) const;
  // Appends an empty record to the log with sync=true: LevelDB fsyncs the log file, which makes
  // every earlier record in it durable.
  absl::Status SyncLog();
  // Latches the fault (a no-op when the I/O already did) and returns the client's status for the
  // failed `operation` ("write", "sync").
  absl::Status LatchFault(const leveldb::Status& status, std::string_view operation);
  // UNAVAILABLE for a write refused in the fault state. `what` opens the message.
  absl::Status Refusal(std::string_view what) const;
  absl::Status FaultError() const;
  void SyncerLoop();
  void StopSyncer();

  const std::string path;
  const StoreOptions options;
  leveldb::Env* const env;  // the caller's (or the default) Env, for Stats' directory listing
  // The fault latch, and the Env LevelDB actually uses, which sets it from inside the I/O. Both
  // are declared before `db`, so they outlive it.
  FaultLatch latch;
  LatchingEnv latching_env;
  std::unique_ptr<leveldb::Cache> block_cache;
  std::unique_ptr<const leveldb::FilterPolicy> filter_policy;
  std::unique_ptr<leveldb::DB> db;

  // Set after an unsynced write returns; cleared just before a sync, so a write that lands
  // during the sync stays marked for the next one.
  std::atomic<bool> dirty{false};

  std::atomic<uint64_t> batches_written{0};
  std::atomic<uint64_t> bytes_written{0};
  std::atomic<uint64_t> syncs{0};
  std::atomic<uint64_t> write_errors{0};

  absl::Mutex syncer_mu;
  bool stop_syncer ABSL_GUARDED_BY(syncer_mu) = false;
  std::thread syncer;
};

absl::Status Store::Impl::OpenDb() {
  block_cache.reset(leveldb::NewLRUCache(options.block_cache_bytes));
  filter_policy.reset(leveldb::NewBloomFilterPolicy(10));
  leveldb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.paranoid_checks = false;
  db_options.env = &latching_env;
  db_options.block_cache = block_cache.get();
  db_options.filter_policy = filter_policy.get();
  db_options.write_buffer_size = options.write_buffer_bytes;
  leveldb::DB* raw_db = nullptr;
  const leveldb::Status status = leveldb::DB::Open(db_options, path, &raw_db);
  db.reset(raw_db);
  return FromLevelDb(status);
}

absl::Status Store::Impl::CheckSchemaVersion() {
  const std::string key = SchemaVersionKey();
  const std::string expected = absl::StrCat(kSchemaVersion);
  SOCHDB_ASSIGN_OR_RETURN(std::optional<std::string> stored, Get(key, nullptr));
  if (stored.has_value()) {
    if (*stored == expected) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrFormat(
        "database at %s has schema version \"%s\"; this build reads only schema version %d", path,
        absl::CHexEscape(*stored), kSchemaVersion));
  }
  std::unique_ptr<leveldb::Iterator> iterator(db->NewIterator(leveldb::ReadOptions()));
  iterator->SeekToFirst();
  SOCHDB_RETURN_IF_ERROR(FromLevelDb(iterator->status()));
  if (iterator->Valid()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "database at %s holds data but no schema version record (an unversioned or foreign "
        "database); this build reads only schema version %d",
        path, kSchemaVersion));
  }
  leveldb::WriteBatch batch;
  batch.Put(key, expected);
  leveldb::WriteOptions write_options;
  write_options.sync = true;
  return FromLevelDb(db->Write(write_options, &batch));
}

absl::StatusOr<std::optional<std::string>> Store::Impl::Get(
    std::string_view key, const leveldb::Snapshot* snapshot) const {
  leveldb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  std::string value;
  const leveldb::Status status = db->Get(read_options, ToSlice(key), &value);
  if (status.IsNotFound()) return std::nullopt;
  SOCHDB_RETURN_IF_ERROR(FromLevelDb(status));
  return value;
}

absl::Status Store::Impl::SyncLog() {
  if (latch.latched()) return FaultError();
  dirty.store(false, std::memory_order_release);
  leveldb::WriteBatch empty;
  leveldb::WriteOptions write_options;
  write_options.sync = true;
  const leveldb::Status status = db->Write(write_options, &empty);
  if (!status.ok()) return LatchFault(status, "sync");
  syncs.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status Store::Impl::LatchFault(const leveldb::Status& status, std::string_view operation) {
  write_errors.fetch_add(1, std::memory_order_relaxed);
  latch.Latch(operation, status);
  return Refusal(
      absl::StrCat("storage ", absl::string_view(operation.data(), operation.size()), " failed"));
}

// The same wording for every refusal, so clients and alerts can match on it; the kind ("I/O
// error", "disk full", ...) is all a client learns, the details are in the server log.
absl::Status Store::Impl::Refusal(std::string_view what) const {
  return absl::UnavailableError(
      absl::StrCat(absl::string_view(what.data(), what.size()), " (", latch.kind(),
                   "); writes are refused until the server restarts; see the server log"));
}

absl::Status Store::Impl::FaultError() const {
  return Refusal("storage is in a fault state after a write failure");
}

void Store::Impl::SyncerLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&syncer_mu);
      if (syncer_mu.AwaitWithTimeout(absl::Condition(&stop_syncer), options.sync_interval)) {
        return;
      }
    }
    if (!dirty.load(std::memory_order_acquire)) continue;
    // A failed sync latches the fault; nothing later can be acknowledged, so stop syncing.
    if (!SyncLog().ok()) return;
  }
}

void Store::Impl::StopSyncer() {
  if (!syncer.joinable()) return;
  {
    absl::MutexLock lock(&syncer_mu);
    stop_syncer = true;
  }
  syncer.join();
}

// ---------------------------------------------------------------------------------------------
// Store

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   const StoreOptions& options) {
  if (options.sync_mode == SyncMode::kNormal && options.sync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sync_interval is ", absl::FormatDuration(options.sync_interval),
                     "; it must be greater than 0 in sync mode normal"));
  }
  auto impl = std::make_unique<Impl>(path, options);
  SOCHDB_RETURN_IF_ERROR(impl->OpenDb());
  SOCHDB_RETURN_IF_ERROR(impl->CheckSchemaVersion());
  if (options.sync_mode == SyncMode::kNormal) {
    Impl* raw_impl = impl.get();
    impl->syncer = std::thread([raw_impl] { raw_impl->SyncerLoop(); });
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::~Store() {
  impl_->StopSyncer();
  if (impl_->latch.latched()) {
    // Repeated at close, so that the reason sits next to the restart in the log.
    spdlog::warn("storage at {} closes in the fault state; the first failure was: {}", impl_->path,
                 impl_->latch.first_error());
    return;
  }
  if (!impl_->dirty.load(std::memory_order_acquire)) return;
  // A failure here latches the fault, which logs LevelDB's full text.
  if (!impl_->SyncLog().ok()) {
    spdlog::error("storage at {}: final sync at close failed", impl_->path);
  }
}

absl::StatusOr<std::optional<std::string>> Store::Get(std::string_view key,
                                                      const Snapshot* snapshot) const {
  return impl_->Get(key, Unwrap(snapshot));
}

absl::Status Store::Write(WriteBatch* batch) {
  Impl& impl = *impl_;
  if (impl.latch.latched()) return impl.FaultError();
  if (batch->Count() == 0) return absl::OkStatus();
  leveldb::WriteOptions write_options;
  write_options.sync = impl.options.sync_mode == SyncMode::kFull;
  const leveldb::Status status = impl.db->Write(write_options, &batch->rep_->batch);
  if (!status.ok()) return impl.LatchFault(status, "write");
  // A write that LevelDB logged after another's failed append may sit behind a torn record and
  // be dropped at recovery; it must not be acknowledged. The latch is set inside the failing
  // I/O call (fault_latch.h), and LevelDB's writer queue runs this write's append after that
  // call returned, so this check cannot miss such a write.
  if (impl.latch.latched()) {
    return impl.Refusal(
        "this write may not survive a restart: storage failed a write alongside it");
  }
  impl.batches_written.fetch_add(1, std::memory_order_relaxed);
  impl.bytes_written.fetch_add(batch->ApproximateSize(), std::memory_order_relaxed);
  if (write_options.sync) {
    impl.syncs.fetch_add(1, std::memory_order_relaxed);
  } else {
    impl.dirty.store(true, std::memory_order_release);
  }
  return absl::OkStatus();
}

absl::Status Store::Sync() { return impl_->SyncLog(); }

std::unique_ptr<Snapshot> Store::GetSnapshot() const {
  return std::make_unique<LevelDbSnapshot>(impl_->db.get(), impl_->db->GetSnapshot());
}

std::unique_ptr<Iterator> Store::NewIterator(const Snapshot* snapshot) const {
  leveldb::ReadOptions read_options;
  read_options.snapshot = Unwrap(snapshot);
  // Scans would otherwise evict the point-read working set from the block cache.
  read_options.fill_cache = false;
  return std::make_unique<LevelDbIterator>(impl_->db->NewIterator(read_options));
}

bool Store::faulted() const { return impl_->latch.latched(); }

SyncMode Store::sync_mode() const { return impl_->options.sync_mode; }

StoreStats Store::Stats() const {
  const Impl& impl = *impl_;
  StoreStats stats;
  std::vector<std::string> children;
  if (impl.env->GetChildren(impl.path, &children).ok()) {
    for (const std::string& child : children) {
      if (child == "." || child == "..") continue;
      uint64_t size = 0;
      if (impl.env->GetFileSize(impl.path + "/" + child, &size).ok()) stats.disk_bytes += size;
    }
  }
  std::string memory_usage;
  if (impl.db->GetProperty("leveldb.approximate-memory-usage", &memory_usage)) {
    if (!absl::SimpleAtoi(memory_usage, &stats.memtable_bytes)) stats.memtable_bytes = 0;
  }
  stats.batches_written = impl.batches_written.load(std::memory_order_relaxed);
  stats.bytes_written = impl.bytes_written.load(std::memory_order_relaxed);
  stats.syncs = impl.syncs.load(std::memory_order_relaxed);
  stats.write_errors = impl.write_errors.load(std::memory_order_relaxed);
  stats.faulted = impl.latch.latched();
  return stats;
}

}  // namespace sochdb::storage
