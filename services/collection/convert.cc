#include "services/collection/convert.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "services/common/vector_enums.h"

namespace sochdb::services::collection_convert {
namespace {

// `text` as a JSON string literal (metadata is UTF-8: protobuf checks string fields).
std::string JsonString(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

collection::Aggregate ToAggregate(v1::MultiVectorAggregate a) {
  switch (a) {
    case v1::MULTI_VECTOR_AGGREGATE_MEAN:
      return collection::Aggregate::kMean;
    case v1::MULTI_VECTOR_AGGREGATE_FIRST:
      return collection::Aggregate::kFirst;
    default:
      return collection::Aggregate::kMax;
  }
}

}  // namespace

std::map<std::string, std::string> ToMap(const google::protobuf::Map<std::string, std::string>& m) {
  return std::map<std::string, std::string>(m.begin(), m.end());
}

absl::StatusOr<collection::CollectionDefinition> ToDefinition(
    const v1::CreateCollectionRequest& req) {
  collection::CollectionDefinition d;
  d.ns = req.namespace_();
  d.name = req.name();
  d.metric_code = static_cast<int32_t>(req.metric());
  absl::StatusOr<vector::Metric> metric = ToMetric(req.metric());
  if (!metric.ok()) return metric.status();
  absl::StatusOr<vector::Quantization> quantization = ToQuantization(req.quantization());
  if (!quantization.ok()) return quantization.status();
  if (req.pq_num_centroids() != 0 && req.pq_num_centroids() != 256) {
    return absl::InvalidArgumentError(absl::StrCat("pq_num_centroids is ", req.pq_num_centroids(),
                                                   "; only 256 (8-bit codes) is supported"));
  }
  d.spec.dimension = req.dimension();
  d.spec.metric = *metric;
  d.spec.quantization = *quantization;
  d.spec.pq_subvectors = req.pq_num_subvectors();
  d.spec.m = req.m();
  d.spec.ef_construction = req.ef_construction();
  d.spec.ef_search = req.ef_search();
  d.metadata = ToMap(req.metadata());
  d.hybrid = req.enable_hybrid_search();
  d.content_field = req.content_field();
  return d;
}

void FillCollection(const collection::CollectionInfo& info, v1::Collection* out) {
  const collection::CollectionDefinition& d = info.definition;
  out->set_name(d.name);
  out->set_namespace_(d.ns);
  out->set_dimension(d.spec.dimension);
  out->set_metric(static_cast<v1::DistanceMetric>(d.metric_code));
  out->set_document_count(info.document_count);
  out->set_created_at(d.created_at);
  out->mutable_metadata()->insert(d.metadata.begin(), d.metadata.end());
  out->set_enable_hybrid_search(d.hybrid);
  out->set_quantization(FromQuantization(d.spec.quantization));
}

std::vector<collection::Document> ToDocuments(
    const google::protobuf::RepeatedPtrField<v1::Document>& documents) {
  std::vector<collection::Document> out;
  out.reserve(documents.size());
  for (const v1::Document& d : documents) {
    collection::Document doc;
    doc.id = d.id();
    doc.content = d.content();
    doc.metadata = ToMap(d.metadata());
    doc.first_is_embedding = !d.embedding().empty() || d.extra_embeddings_size() == 0;
    if (doc.first_is_embedding) {
      doc.embeddings.emplace_back(d.embedding().begin(), d.embedding().end());
    }
    for (const v1::Vector& extra : d.extra_embeddings()) {
      doc.embeddings.emplace_back(extra.values().begin(), extra.values().end());
    }
    out.push_back(std::move(doc));
  }
  return out;
}

void FillDocument(const collection::Document& doc, bool with_embeddings, v1::Document* out) {
  out->set_id(doc.id);
  out->set_content(doc.content);
  out->mutable_metadata()->insert(doc.metadata.begin(), doc.metadata.end());
  if (!with_embeddings) return;
  for (size_t i = 0; i < doc.embeddings.size(); ++i) {
    const std::vector<float>& e = doc.embeddings[i];
    if (i == 0) {
      out->mutable_embedding()->Add(e.begin(), e.end());
    } else {
      out->add_extra_embeddings()->mutable_values()->Add(e.begin(), e.end());
    }
  }
}

absl::StatusOr<filter::MetadataFilter> ToFilter(
    const google::protobuf::Map<std::string, std::string>& exact, const std::string& json) {
  if (json.empty()) return filter::MetadataFilter::ExactMatch(ToMap(exact));
  if (exact.empty()) return filter::MetadataFilter::Parse(json);
  // Both: the exact pairs become string $eq conditions ANDed with the JSON filter.
  std::string pairs = "{";
  for (const auto& [key, value] : ToMap(exact)) {
    if (pairs.size() > 1) pairs += ",";
    pairs += JsonString(key) + ":" + JsonString(value);
  }
  pairs += "}";
  return filter::MetadataFilter::Parse(absl::StrCat("{\"$and\":[", pairs, ",", json, "]}"));
}

absl::StatusOr<collection::SearchQuery> ToQuery(const v1::SearchCollectionRequest& req) {
  collection::SearchQuery q;
  q.vector.assign(req.query().begin(), req.query().end());
  q.k = req.k();
  absl::StatusOr<filter::MetadataFilter> f = ToFilter(req.filter(), req.filter_json());
  if (!f.ok()) return f.status();
  q.filter = *std::move(f);
  if (req.has_min_score()) q.min_score = req.min_score();
  q.include_embeddings = !req.has_include_embeddings() || req.include_embeddings();
  q.ef_search = req.ef_search();
  q.text_query = req.text_query();
  if (req.has_alpha()) q.alpha = req.alpha();
  if (req.rrf_k() != 0) q.rrf_k = req.rrf_k();
  q.aggregate = ToAggregate(req.aggregate());
  return q;
}

void DropSubjects(const v1::DeleteCollectionRequest& req, governance::KeyList* keys) {
  keys->Add(req.name());
  keys->AddComposed(absl::StrCat(req.name(), "/"), /*prefix=*/true);
}

void AddSubjects(const v1::AddDocumentsRequest& req, governance::KeyList* keys) {
  for (const v1::Document& doc : req.documents()) {
    keys->AddComposed(absl::StrCat(req.collection_name(), "/", doc.id()),
                      /*prefix=*/doc.id().empty());
  }
}

void RedactGetDocument(const v1::GetDocumentRequest& req, google::protobuf::Message* resp,
                       const governance::Redactor& redactor) {
  auto* get = dynamic_cast<v1::GetDocumentResponse*>(resp);
  if (get == nullptr || !get->has_document()) return;
  v1::Document* doc = get->mutable_document();
  redactor.Apply(absl::StrCat(req.collection_name(), "/", doc->id()), doc->mutable_content());
}

void RedactSearch(const v1::SearchCollectionRequest& req, google::protobuf::Message* resp,
                  const governance::Redactor& redactor) {
  auto* search = dynamic_cast<v1::SearchCollectionResponse*>(resp);
  if (search == nullptr) return;
  for (v1::DocumentResult& result : *search->mutable_results()) {
    v1::Document* doc = result.mutable_document();
    redactor.Apply(absl::StrCat(req.collection_name(), "/", doc->id()), doc->mutable_content());
  }
}

}  // namespace sochdb::services::collection_convert
