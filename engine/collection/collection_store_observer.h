// CollectionStoreObserver: the seam through which a caller sees a CollectionStore at chosen
// steps of a search and a delete, and may hold it there. Tests pass one (CollectionStore::Open)
// to put a search and a delete in a known order instead of sleeping until they probably
// overlap; the server passes none, and every step is then a no-op. Each method runs on the
// thread doing the work, holding no lock of the store.
#ifndef SOCHDB_ENGINE_COLLECTION_COLLECTION_STORE_OBSERVER_H_
#define SOCHDB_ENGINE_COLLECTION_COLLECTION_STORE_OBSERVER_H_

namespace sochdb::collection {

class CollectionStoreObserver {
 public:
  virtual ~CollectionStoreObserver() = default;

  // In Search, once the candidates are ranked, before the winners' documents are read.
  virtual void BeforeSearchReads() {}
  // In Delete, once the collection's vectors are deleted, before its postings and documents.
  virtual void AfterVectorsDropped() {}

  // The observer that does nothing: what a store without one uses.
  static CollectionStoreObserver* None() {
    static CollectionStoreObserver none;
    return &none;
  }
};

}  // namespace sochdb::collection

#endif  // SOCHDB_ENGINE_COLLECTION_COLLECTION_STORE_OBSERVER_H_
