// SimulatedDisk: an in-memory disk for the reliability suite (T2 power cut, T3 I/O error sweep),
// reached both as a leveldb::Env (the Store's files) and as a sochdb::FileSystem (vector and
// collection snapshots), so that one fault plan and one power cut cover every file the engine
// writes.
//
// Power-cut model (after LevelDB's db/fault_injection_test.cc): a file's bytes survive up to its
// last Sync; a creation, rename or removal survives once its directory is synced (SyncDir), or
// when a file whose own creation is not yet durable is synced (its directory goes with it, as
// LevelDB's test assumes and ext4 does: LevelDB 1.23 never fsyncs a directory except after a
// MANIFEST sync, and relies on this for its logs and CURRENT). At a power cut every later call
// that changes the disk fails; Reboot() then truncates each file to its synced length and puts
// each directory back as of its last sync, undoing the creations (LevelDB's test removes the
// files created since), renames and removals made since. Directories themselves are durable once
// created.
//
// Faults (SQLite's "fail the Nth I/O"): the calls that change the disk (DiskOp) are counted,
// LevelDB's and the snapshots' together; FailAfter(n) fails the call after the next n, once
// (transient) or from then on (persistent). A failed Append writes nothing, or half its data
// (torn), as a short write or a crash mid-write leaves it.
//
// Thread-safe. Paths are plain strings ("/" separated); no file leaves memory.
#ifndef SOCHDB_TESTS_ENGINE_STORAGE_SIMULATED_DISK_H_
#define SOCHDB_TESTS_ENGINE_STORAGE_SIMULATED_DISK_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/file_system.h"
#include "leveldb/env.h"

namespace sochdb::storage::testing {

// The calls that change the disk: what faults and power cuts count.
enum class DiskOp { kCreate, kAppend, kFlush, kSync, kClose, kRename, kRemove, kSyncDir, kMakeDir };
std::string_view DiskOpName(DiskOp op);

class SimulatedDisk {
 public:
  enum class Persistence { kTransient, kPersistent };

  // One counted call: the operation, the path it named, and whether it came through the
  // leveldb::Env (the Store) or the FileSystem (snapshots).
  struct Call {
    int64_t number = 0;  // 1-based, since construction
    DiskOp op = DiskOp::kCreate;
    std::string path;
    bool via_env = false;
  };

  SimulatedDisk();
  ~SimulatedDisk();
  SimulatedDisk(const SimulatedDisk&) = delete;
  SimulatedDisk& operator=(const SimulatedDisk&) = delete;

  // The two faces of the disk; both live as long as it does.
  leveldb::Env* env();
  FileSystem* files();

  // The call after the next `n` counted calls fails; with kPersistent every later one too,
  // until ClearFaults(). `torn`: a failed Append writes the first half of its data.
  void FailAfter(int64_t n, Persistence persistence, bool torn = false);
  void ClearFaults();
  // The power goes off at the call after the next `n` counted calls: it and every later
  // counted call fail until Reboot().
  void PowerCutAfter(int64_t n);
  void PowerCut();
  bool powered() const;
  // The disk as the power cut left it (see the file comment), powered and without faults.
  // Nothing may have a file of it open (close the Store and the engine first).
  void Reboot();

  // Counted calls so far.
  int64_t calls() const;
  // Every counted call so far, in order.
  std::vector<Call> trace() const;
  // The first call failed by FailAfter or the power cut, if any yet.
  std::optional<Call> first_failure() const;

  // A file's current bytes (nullopt when absent), for tests that damage or inspect files.
  std::optional<std::string> Contents(const std::string& path) const;

  // A file open for writing, behind both faces' file types (an implementation detail).
  class SimWritable;

 private:
  struct Inode {
    std::string data;
    size_t synced = 0;  // bytes that survive a power cut
  };
  class EnvFace;
  class FilesFace;

  // Counts a call; returns the reason it fails ("" when it goes ahead). mu_ held.
  std::string Admit(DiskOp op, const std::string& path, bool via_env);
  // Every entry of `dir` becomes durable as it is now. mu_ held.
  void SyncDirLocked(const std::string& dir);
  bool DirExistsLocked(const std::string& dir) const;

  // The file operations both faces share; `via_env` names the face for the trace. Each returns
  // "" or the reason it failed (and whether the path was missing, for NotFound statuses).
  std::string Create(const std::string& path, bool append, bool via_env,
                     std::shared_ptr<Inode>* inode);
  std::string Append(const std::string& path, Inode* inode, std::string_view data, bool via_env);
  std::string Sync(const std::string& path, const std::shared_ptr<Inode>& inode, bool via_env);
  std::string Simple(DiskOp op, const std::string& path, bool via_env);
  std::string Rename(const std::string& from, const std::string& to, bool via_env, bool* missing);
  std::string Remove(const std::string& path, bool via_env, bool* missing);
  std::string SyncDir(const std::string& dir, bool via_env);
  std::string MakeDirs(const std::string& dir, bool via_env);
  std::shared_ptr<Inode> Find(const std::string& path) const;
  std::vector<std::string> Children(const std::string& dir, bool* exists) const;
  bool Lock(const std::string& path);
  void Unlock(const std::string& path);

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Inode>> files_;    // the namespace now
  std::map<std::string, std::shared_ptr<Inode>> durable_;  // as a power cut would leave it
  std::set<std::string> dirs_;
  std::set<std::string> locks_;
  std::vector<Call> trace_;
  int64_t fail_at_ = -1;  // call number that fails; -1: none armed
  Persistence persistence_ = Persistence::kTransient;
  bool torn_ = false;
  bool failing_ = false;  // a persistent fault fired
  int64_t cut_at_ = -1;
  bool powered_ = true;
  std::optional<Call> first_failure_;
  std::unique_ptr<EnvFace> env_;
  std::unique_ptr<FilesFace> files_face_;
};

}  // namespace sochdb::storage::testing

#endif  // SOCHDB_TESTS_ENGINE_STORAGE_SIMULATED_DISK_H_
