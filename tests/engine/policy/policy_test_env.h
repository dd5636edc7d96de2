// An in-memory store that survives being closed and reopened (the MemEnv outlives it), and the
// principals the policy tests call as.
#ifndef SOCHDB_TESTS_ENGINE_POLICY_POLICY_TEST_ENV_H_
#define SOCHDB_TESTS_ENGINE_POLICY_POLICY_TEST_ENV_H_

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "engine/auth/auth.h"
#include "engine/storage/store.h"
#include "leveldb/env.h"
#include "leveldb/helpers/memenv.h"
#include "tests/common/status_testing.h"

namespace sochdb::testing {

class MemoryStore {
 public:
  MemoryStore() { Reopen(); }
  void Reopen() {
    store.reset();
    storage::StoreOptions options;
    options.env = env_.get();
    store = ValueOrFail(storage::Store::Open("/mem/policy", options));
  }

 private:
  std::unique_ptr<leveldb::Env> env_{leveldb::NewMemEnv(leveldb::Env::Default())};

 public:
  std::unique_ptr<storage::Store> store;  // declared after env_: closed before it
};

inline auth::Principal Caller(std::string tenant, auth::Role role, std::string id = "") {
  auth::Principal p;
  p.id = id.empty() ? tenant + "-" + std::string(auth::RoleName(role)) : id;
  p.tenant = std::move(tenant);
  p.role = role;
  p.capabilities = auth::CapabilitiesOf(role);
  return p;
}

}  // namespace sochdb::testing

#endif  // SOCHDB_TESTS_ENGINE_POLICY_POLICY_TEST_ENV_H_
