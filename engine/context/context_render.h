// Renders context sections in one output format (context_query.h describes the layouts): the
// whole document a Query returns, and each section alone (its SectionResult's content).
#ifndef SOCHDB_ENGINE_CONTEXT_CONTEXT_RENDER_H_
#define SOCHDB_ENGINE_CONTEXT_CONTEXT_RENDER_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

#include "engine/context/context_query.h"
#include "engine/context/section_data.h"

namespace sochdb::context {

// The section as a JSON value: its header, then its items (or its one text).
OrderedJson SectionValue(const SectionData& section);

// Rendering is called many times per query (every budget probe renders), so it returns plain
// strings; the TOON encoder's refusals (text that is not UTF-8, nesting past its bound: neither
// can come from sections the reader built, whose texts are checked UTF-8 and cut on character
// boundaries) are kept as the renderer's sticky error() for the caller to check once.
class ContextRenderer {
 public:
  explicit ContextRenderer(OutputFormat format) : format_(format) {}

  OutputFormat format() const { return format_; }
  // The context: every section of `sections` that is not dropped, in order.
  std::string Document(const std::vector<const SectionData*>& sections) const;
  // One section alone, as SectionResult.content shows it ("" for a dropped section).
  std::string Section(const SectionData& section) const;
  // The first encoder error of any rendering so far (OK when none).
  absl::Status error() const;

 private:
  std::string Toon(const OrderedJson& value) const;

  const OutputFormat format_;
  mutable absl::Mutex mu_;
  mutable absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sochdb::context

#endif  // SOCHDB_ENGINE_CONTEXT_CONTEXT_RENDER_H_
