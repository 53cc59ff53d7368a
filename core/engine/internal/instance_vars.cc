#include "core/engine/internal/instance_vars.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/common/util.h"

namespace bpm::engine::internal {

Status InstanceVars::Load(const std::string& stored, std::string what) {
  what_ = std::move(what);
  parsed_.Clear();
  changed_.clear();
  stored_.clear();
  pending_.clear();
  from_stored_ = false;
  if (stored.empty()) return absl::OkStatus();
  if (CanonicalJsonMembers(stored, &stored_)) {
    pending_.assign(stored_.size(), true);
    from_stored_ = true;
    return absl::OkStatus();
  }
  stored_.clear();
  auto all = ParseJsonStruct(stored);
  if (!all.ok()) {
    return absl::DataLossError(absl::StrCat(what_, ": the stored variables do not parse (",
                                            all.status().message(), ")"));
  }
  parsed_ = *std::move(all);
  return absl::OkStatus();
}

void InstanceVars::Replace(google::protobuf::Struct all) {
  parsed_ = std::move(all);
  stored_.clear();
  pending_.clear();
  changed_.clear();
  from_stored_ = false;
}

Status InstanceVars::Parse(size_t i) {
  if (!pending_[i]) return absl::OkStatus();
  const JsonMember& m = stored_[i];
  auto value = ParseJsonValue(m.value);
  if (!value.ok()) {
    return absl::DataLossError(absl::StrCat(what_, ": stored variable '", std::string(m.key),
                                            "' does not parse (", value.status().message(),
                                            ")"));
  }
  (*parsed_.mutable_fields())[std::string(m.key)].Swap(&*value);
  pending_[i] = false;
  return absl::OkStatus();
}

StatusOr<google::protobuf::Struct*> InstanceVars::All() {
  for (size_t i = 0; i < stored_.size(); ++i) BPM_RETURN_IF_ERROR(Parse(i));
  return &parsed_;
}

StatusOr<google::protobuf::Struct*> InstanceVars::With(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    auto it = std::lower_bound(stored_.begin(), stored_.end(), name,
                               [](const JsonMember& m, const std::string& k) { return m.key < k; });
    if (it != stored_.end() && it->key == name) {
      BPM_RETURN_IF_ERROR(Parse(static_cast<size_t>(it - stored_.begin())));
    }
  }
  return &parsed_;
}

void InstanceVars::Set(const std::string& key, google::protobuf::Value* v) {
  auto it = std::lower_bound(stored_.begin(), stored_.end(), key,
                             [](const JsonMember& m, const std::string& k) { return m.key < k; });
  if (it != stored_.end() && it->key == key) pending_[static_cast<size_t>(it - stored_.begin())] = false;
  (*parsed_.mutable_fields())[key].Swap(v);
  changed_.push_back(key);
}

std::string InstanceVars::Encode() const {
  if (from_stored_) return CanonicalJsonUpdate(stored_, parsed_, changed_);
  return CanonicalJson(parsed_);
}

}  // namespace bpm::engine::internal
