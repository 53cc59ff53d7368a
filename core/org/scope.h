// bpm::org::Scope — which orgs' records a caller's org may see and act on
// (the "org scope" of the authorization matrix, docs/authorization.md).
//
// In the org model, by the kind of the caller's org:
//   unit, department     itself and every org below it (parent links), and
//                        any code that starts with its code (the budget-code
//                        rule: unit 906017 belongs to department 906)
//   finance_section      business: the departments it owns (owner_section,
//                        归口) and everything below them; performance and
//                        leadership: every org in the bureau's region
//   finance_bureau       every org in its region
// A caller org that is not in the model (or no model at all) sees only
// itself and the codes that start with its code. An empty caller org sees
// nothing. The model is read as of now; an org that is dissolved or not yet
// valid is outside every scope but the code rule.
//
// Errors: UNAVAILABLE/INTERNAL from the store only.
// Thread safety: every method may be called concurrently. The model is read
// into memory once and read again when the store's generation() changes, or
// after refresh_ms (so an org version dated to start later takes effect, and
// so do writes by another bpmd on the same database, at most refresh_ms late).
// Borrows orgs (may be null: no org model) and clock.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/store/org_store.h"

namespace bpm::org {

class Scope {
 public:
  Scope(store::OrgStore* orgs, const Clock& clock, int64_t refresh_ms = 10000)
      : orgs_(orgs), clock_(clock), refresh_ms_(refresh_ms) {}
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

  // True when target_org is in the scope of caller_org.
  StatusOr<bool> Covers(const std::string& caller_org, const std::string& target_org);

  // The kind of org in the model now ("" when it is not in it).
  StatusOr<std::string> KindOf(const std::string& org);

  // The scope of caller_org as a list filter: an org is in it when its code
  // is one of codes or starts with prefix (prefix is never empty).
  struct Set {
    std::vector<std::string> codes;  // sorted
    std::string prefix;
  };
  StatusOr<Set> Within(const std::string& caller_org);

 private:
  struct Model {
    std::unordered_map<std::string, store::OrgRow> orgs;
    uint64_t generation = 0;
    int64_t read_at_ms = 0;
  };
  StatusOr<std::shared_ptr<const Model>> Current();
  static bool InModelScope(const Model& m, const store::OrgRow& caller, const std::string& target);

  store::OrgStore* const orgs_;
  const Clock& clock_;
  const int64_t refresh_ms_;
  std::mutex mu_;
  std::shared_ptr<const Model> model_;
};

}  // namespace bpm::org
