// Tests for the shared name rules (names.h): the limits and the exact messages that KV,
// collections and vector indexes answer with (docs/services.md quotes the namespace's).
#include "engine/common/names.h"

#include <catch2/catch.hpp>
#include <string>

namespace sochdb {
namespace {

using namespace std::string_literals;

std::string Message(const absl::Status& status) {
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

TEST_CASE("a namespace is 0..256 bytes without NUL", "[names]") {
  CHECK(ValidateNamespace("").ok());
  CHECK(ValidateNamespace(std::string(kMaxNamespaceBytes, 'n')).ok());
  CHECK(Message(ValidateNamespace(std::string(300, 'n'))) ==
        "namespace is 300 bytes; the limit is 256 bytes");
  CHECK(Message(ValidateNamespace("a\0b"s)) == "namespace must not contain NUL bytes");
}

TEST_CASE("names name their field, and may refuse the empty name", "[names]") {
  CHECK(ValidateName("name", "", 8, EmptyName::kAllowed).ok());
  CHECK(Message(ValidateName("collection name", "", 8, EmptyName::kRefused)) ==
        "collection name must not be empty");
  CHECK(ValidateName("name", "12345678", 8, EmptyName::kRefused).ok());
  CHECK(Message(ValidateName("name", "123456789", 8, EmptyName::kRefused)) ==
        "name is 9 bytes; the limit is 8 bytes");
  CHECK(Message(ValidateName("name", "\0"s, 8, EmptyName::kRefused)) ==
        "name must not contain NUL bytes");
}

}  // namespace
}  // namespace sochdb
