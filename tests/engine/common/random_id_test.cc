// NewUuidV4: the RFC 4122 version-4 layout (8-4-4-4-12 lower-case hex, version nibble 4, variant
// 10xx) and no repeats in 10,000 ids, from one thread and from several at once (each thread has
// its own generator, seeded separately).
#include "engine/common/random_id.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sochdb {
namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool IsUuidV4(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
    if (hyphen ? id[i] != '-' : !IsLowerHex(id[i])) return false;
  }
  const char variant = id[19];
  return id[14] == '4' && (variant == '8' || variant == '9' || variant == 'a' || variant == 'b');
}

TEST_CASE("NewUuidV4 gives version-4 UUIDs in the canonical text form", "[random_id]") {
  CHECK_FALSE(IsUuidV4("123e4567-e89b-12d3-a456-426614174000"));  // version 1
  CHECK_FALSE(IsUuidV4("123e4567-e89b-42d3-c456-426614174000"));  // variant 110x
  CHECK(IsUuidV4("123e4567-e89b-42d3-a456-426614174000"));
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuidV4();
    INFO(id);
    REQUIRE(IsUuidV4(id));
  }
}

TEST_CASE("10,000 ids are distinct, across threads too", "[random_id]") {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(NewUuidV4());
  CHECK(ids.size() == 10000);

  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) {
    threads.emplace_back([&out] {
      for (int i = 0; i < 2500; ++i) out.push_back(NewUuidV4());
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& out : per_thread) ids.insert(out.begin(), out.end());
  CHECK(ids.size() == 20000);
}

TEST_CASE("RandomUint64 uses all 64 bits", "[random_id]") {
  uint64_t ones = 0, zeros = 0;
  for (int i = 0; i < 64; ++i) {
    const uint64_t value = RandomUint64();
    ones |= value;
    zeros |= ~value;
  }
  CHECK(ones == ~uint64_t{0});
  CHECK(zeros == ~uint64_t{0});
}

}  // namespace
}  // namespace sochdb
