// JsonEscape, the body of the "msg" string in --log-format json lines: whatever bytes a message
// holds, the line must stay one valid JSON object.
#include "server/logging.h"

#include <catch2/catch.hpp>
#include <string>

#include "nlohmann/json.hpp"

namespace sochdb::server {
namespace {

std::string Unescaped(const std::string& body) {
  return nlohmann::json::parse("\"" + body + "\"").get<std::string>();
}

TEST_CASE("JsonEscape escapes quotes, backslashes and control characters", "[logging]") {
  const std::string message = "say \"hi\" \\ path\nnext\tline\r\x01 caf\xc3\xa9";
  const std::string body = JsonEscape(message);
  CHECK(body == "say \\\"hi\\\" \\\\ path\\nnext\\tline\\r\\u0001 caf\xc3\xa9");
  CHECK(Unescaped(body) == message);
}

TEST_CASE("JsonEscape keeps the line JSON when a message is not UTF-8", "[logging]") {
  const std::string body = JsonEscape("bad \xff\xfe byte");
  CHECK(Unescaped(body) == "bad \xef\xbf\xbd\xef\xbf\xbd byte");  // U+FFFD for each
}

}  // namespace
}  // namespace sochdb::server
