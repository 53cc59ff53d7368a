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

size_t InstanceVars::Find(std::string_view key) const {
  auto it = std::lower_bound(stored_.begin(), stored_.end(), key,
                             [](const JsonMember& m, std::string_view k) { return m.key < k; });
  if (it == stored_.end() || it->key != key) return stored_.size();
  return static_cast<size_t>(it - stored_.begin());
}

StatusOr<google::protobuf::Struct*> InstanceVars::With(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (size_t i = Find(name); i < stored_.size()) BPM_RETURN_IF_ERROR(Parse(i));
  }
  return &parsed_;
}

void InstanceVars::Set(const std::string& key, google::protobuf::Value* v) {
  if (size_t i = Find(key); i < stored_.size()) pending_[i] = false;
  (*parsed_.mutable_fields())[key].Swap(v);
  changed_.push_back(key);
}

void InstanceVars::Remove(const std::string& key) {
  if (size_t i = Find(key); i < stored_.size()) pending_[i] = false;
  parsed_.mutable_fields()->erase(key);
  changed_.push_back(key);
}

std::vector<std::string> InstanceVars::Changed() const {
  std::vector<std::string> keys = changed_;
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

bool InstanceVars::Undo(std::string* before_json, std::vector<std::string>* added) const {
  if (!from_stored_) return false;
  before_json->assign("{");
  for (const std::string& key : Changed()) {
    const size_t i = Find(key);
    if (i == stored_.size()) {
      added->push_back(key);
      continue;
    }
    if (before_json->size() > 1) before_json->push_back(',');
    // A stored key needs no escapes (CanonicalJsonMembers takes no others).
    before_json->push_back('"');
    before_json->append(key);
    before_json->append("\":", 2);
    before_json->append(stored_[i].value.data(), stored_[i].value.size());
  }
  before_json->push_back('}');
  return true;
}

Status InstanceVars::ApplyUndo(std::string_view before_json,
                               const std::vector<std::string>& added) {
  auto before = ParseJsonStruct(before_json);
  if (!before.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what_, ": the variables to restore do not parse (", before.status().message(),
                     ")"));
  }
  for (auto& [key, value] : *before->mutable_fields()) Set(key, &value);
  for (const std::string& key : added) Remove(key);
  return absl::OkStatus();
}

std::string InstanceVars::Encode() const {
  if (from_stored_) return CanonicalJsonUpdate(stored_, parsed_, changed_);
  return CanonicalJson(parsed_);
}

}  // namespace bpm::engine::internal
