// The LevelDB adapter behind store.h: opening and closing the database (store_open.h guards the
// open), the schema-version check, durable writes under the three sync modes (with the background
// syncer for kNormal), the client-facing side of the write fault latch (fault_latch.h sets it from
// inside the I/O), checksummed point reads, and wrappers for snapshots and iterators.
// leveldb::Status is translated to absl::Status by one function (ErrorReporter::Translate,
// errors.h) for reads and opens, and by the fault latch's generic refusals for writes: LevelDB's
// text (it names files) goes to the server log, never to clients.
#include "engine/storage/store.h"

#include <atomic>
#include <optional>
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
#include "engine/storage/errors.h"
#include "engine/storage/fault_latch.h"
#include "engine/storage/keys.h"
#include "engine/storage/store_open.h"
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

// Reads verify every block's checksum as it comes from disk (blocks already in the cache were
// verified when they were read), so a damaged block answers DATA_LOSS instead of a wrong value.
leveldb::ReadOptions VerifiedReads() {
  leveldb::ReadOptions read_options;
  read_options.verify_checksums = true;
  return read_options;
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

// Stops at the first error. LevelDB's table iterator steps over a block it cannot read (a bad
// checksum, a missing file) to the next one and stays valid, with the error only in status(); a
// caller that looked at status() at the end alone would have been handed the keys after the hole
// as if nothing were missing. So the status is checked after every move, and an iterator with an
// error is invalid: no key past a damaged block is ever yielded. (LevelDB's iterator status is
// sticky, so every later move fails too.)
class LevelDbIterator final : public Iterator {
 public:
  LevelDbIterator(leveldb::Iterator* iterator, const ErrorReporter* errors)
      : iterator_(iterator), errors_(errors) {}

  void Seek(std::string_view target) override {
    if (!status_.ok()) return;
    seek_target_.assign(target.data(), target.size());
    seek_to_last_ = false;
    iterator_->Seek(ToSlice(target));
    Settle();
  }
  void SeekToLast() override {
    if (!status_.ok()) return;
    seek_target_.clear();
    seek_to_last_ = true;
    iterator_->SeekToLast();
    Settle();
  }
  // LevelDB asserts on Next()/Prev()/key() of an invalid iterator; the engine's contract is
  // softer.
  void Prev() override {
    if (!valid_) return;
    iterator_->Prev();
    Settle();
  }
  void Next() override {
    if (!valid_) return;
    iterator_->Next();
    Settle();
  }
  bool Valid() const override { return valid_; }
  std::string_view key() const override {
    return valid_ ? ToView(iterator_->key()) : std::string_view();
  }
  std::string_view value() const override {
    return valid_ ? ToView(iterator_->value()) : std::string_view();
  }
  absl::Status status() const override { return status_; }

 private:
  void Settle() {
    valid_ = iterator_->Valid();
    const leveldb::Status status = iterator_->status();
    if (status.ok()) return;
    valid_ = false;
    status_ = errors_->Translate(
        status, seek_to_last_ ? std::string("reading keys back from the last one")
                              : absl::StrCat("reading keys from ", QuotedKey(seek_target_), " on"));
  }

  std::unique_ptr<leveldb::Iterator> iterator_;
  const ErrorReporter* const errors_;
  std::string seek_target_;  // where the last Seek went, for the error's message
  bool seek_to_last_ = false;
  bool valid_ = false;
  absl::Status status_;  // the first error, translated; OK until then
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
        latching_env(env, &latch),
        errors(path),
        logger(path) {}

  ~Impl() {
    // The DB's destructor waits for background work, which may be waiting for a descriptor.
    latching_env.StopWaiting();
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
  // With the latch clear, the only failure the Env lets through unlatched is a file that could
  // not be opened for want of a descriptor: the new log of a memtable switch, which LevelDB
  // tries before appending anything (and again on the next write or sync). Nothing was written
  // and nothing harmed (fault_latch.h), so `operation` ("write", "sync") is refused UNAVAILABLE
  // as retryable, latching nothing; nullopt for every other failure.
  std::optional<absl::Status> OutOfDescriptors(const leveldb::Status& status,
                                               std::string_view operation);
  // UNAVAILABLE for a write refused in the fault state. `what` opens the message.
  absl::Status Refusal(std::string_view what) const;
  absl::Status FaultError() const;
  void SyncerLoop();
  void StopSyncer();

  const std::string path;
  const StoreOptions options;
  leveldb::Env* const env;  // the caller's (or the default) Env, for Stats' directory listing
  // The fault latch, and the Env LevelDB actually uses, which sets it from inside the I/O. Both
  // are declared before `db`, so they outlive it; so is LevelDB's info log.
  FaultLatch latch;
  LatchingEnv latching_env;
  ErrorReporter errors;
  RecoveryLogger logger;
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
  db_options.block_cache = block_cache.get();
  db_options.filter_policy = filter_policy.get();
  db_options.write_buffer_size = options.write_buffer_bytes;
  SOCHDB_RETURN_IF_ERROR(CheckNotLocked(path, &latching_env, errors));
  SOCHDB_RETURN_IF_ERROR(CheckRecognisable(path, &latching_env));
  SOCHDB_ASSIGN_OR_RETURN(
      db, OpenLevelDb(path, db_options,
                      LogLoss{options.accept_log_loss, options.before_dropping_log_data},
                      &latching_env, &logger, errors));
  return absl::OkStatus();
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
  std::unique_ptr<leveldb::Iterator> iterator(db->NewIterator(VerifiedReads()));
  iterator->SeekToFirst();
  SOCHDB_RETURN_IF_ERROR(errors.Translate(iterator->status(), "reading the first key"));
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
  return errors.Translate(db->Write(write_options, &batch), "writing the schema version");
}

absl::StatusOr<std::optional<std::string>> Store::Impl::Get(
    std::string_view key, const leveldb::Snapshot* snapshot) const {
  leveldb::ReadOptions read_options = VerifiedReads();
  read_options.snapshot = snapshot;
  std::string value;
  const leveldb::Status status = db->Get(read_options, ToSlice(key), &value);
  if (status.ok()) return value;
  // An absent key is NotFound with no message (and "NotFound: " fits the small-string buffer);
  // a NotFound with one names a table file that has gone missing: data loss, not absence.
  if (status.IsNotFound() && status.ToString() == "NotFound: ") return std::nullopt;
  return errors.Translate(status, absl::StrCat("reading key ", QuotedKey(key)));
}

absl::Status Store::Impl::SyncLog() {
  if (latch.latched()) return FaultError();
  dirty.store(false, std::memory_order_release);
  leveldb::WriteBatch empty;
  leveldb::WriteOptions write_options;
  write_options.sync = true;
  const leveldb::Status status = db->Write(write_options, &empty);
  if (!status.ok()) {
    if (std::optional<absl::Status> refused = OutOfDescriptors(status, "sync")) {
      dirty.store(true, std::memory_order_release);  // what it was to sync still is not
      return *refused;
    }
    return LatchFault(status, "sync");
  }
  syncs.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

std::optional<absl::Status> Store::Impl::OutOfDescriptors(const leveldb::Status& status,
                                                          std::string_view operation) {
  if (latch.latched() || !IsOutOfFileDescriptors(status)) return std::nullopt;
  write_errors.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("storage at {}: a {} could not open a file: {}", path, operation, status.ToString());
  return absl::UnavailableError(absl::StrCat(
      "storage is out of file descriptors (too many open files); the ",
      absl::string_view(operation.data(), operation.size()),
      operation == "sync" ? " did not happen" : " was not applied", " and may be retried"));
}

absl::Status Store::Impl::LatchFault(const leveldb::Status& status, std::string_view operation) {
  write_errors.fetch_add(1, std::memory_order_relaxed);
  latch.Latch(operation, status);
  return Refusal(
      absl::StrCat("storage ", absl::string_view(operation.data(), operation.size()), " failed"));
}

// The same wording for every refusal, so clients and alerts can match on it; the kind ("I/O
// error", "disk full", ...) is all a client learns, the details are in the server log. Damaged
// data (a compaction met a bad block) is met again after a restart, so a restart is not promised.
absl::Status Store::Impl::Refusal(std::string_view what) const {
  const std::string kind = latch.kind();
  const absl::string_view until =
      kind == "corruption"
          ? "writes are refused until the damaged files are dealt with (a restart does not clear "
            "it)"
          : "writes are refused until the server restarts";
  return absl::UnavailableError(absl::StrCat(absl::string_view(what.data(), what.size()), " (",
                                             kind, "); ", until, "; see the server log"));
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
    // A failed sync latches the fault; nothing later can be acknowledged, so stop syncing. One
    // that found no file descriptor latched nothing: the next round tries again.
    if (!SyncLog().ok() && latch.latched()) return;
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
  if (!status.ok()) {
    if (std::optional<absl::Status> refused = impl.OutOfDescriptors(status, "write")) {
      return *refused;
    }
    return impl.LatchFault(status, "write");
  }
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
  leveldb::ReadOptions read_options = VerifiedReads();
  read_options.snapshot = Unwrap(snapshot);
  // Scans would otherwise evict the point-read working set from the block cache.
  read_options.fill_cache = false;
  return std::make_unique<LevelDbIterator>(impl_->db->NewIterator(read_options), &impl_->errors);
}

absl::Status Store::DeleteRange(std::string_view begin, std::string_view end,
                                int keys_per_batch) {
  std::string from(begin);
  for (;;) {
    // A fresh iterator per batch, resumed just past the last key deleted: it holds no snapshot
    // for the whole delete, and never steps over the tombstones of earlier batches again.
    WriteBatch batch;
    std::unique_ptr<Iterator> it = NewIterator();
    for (it->Seek(from); it->Valid() && (end.empty() || it->key() < end) &&
                         batch.Count() < keys_per_batch;
         it->Next()) {
      batch.Delete(it->key());
      from.assign(it->key().data(), it->key().size());
    }
    SOCHDB_RETURN_IF_ERROR(it->status());
    if (batch.Count() == 0) return absl::OkStatus();
    SOCHDB_RETURN_IF_ERROR(Write(&batch));
    from.push_back('\0');  // the smallest key after the last one deleted
  }
}

absl::Status Store::DeletePrefix(std::string_view prefix, int keys_per_batch) {
  // No successor (an empty or all-0xff prefix): the prefix's keys run to the last key.
  return DeleteRange(prefix, PrefixSuccessor(prefix), keys_per_batch);
}

bool Store::faulted() const { return impl_->latch.latched(); }

SyncMode Store::sync_mode() const { return impl_->options.sync_mode; }

std::vector<std::string> ListStoreFiles(const std::string& path, leveldb::Env* env) {
  std::vector<std::string> children;
  leveldb::Env* const fs = env != nullptr ? env : leveldb::Env::Default();
  if (!fs->GetChildren(path, &children).ok()) return {};
  return StoreFileNames(children);
}

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
  stats.corruption_errors = impl.errors.corruption_errors();
  stats.faulted = impl.latch.latched();
  return stats;
}

}  // namespace sochdb::storage
