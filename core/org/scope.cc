#include "core/org/scope.h"

#include <algorithm>

namespace bpm::org {
namespace {

// Parent links are followed at most this far (the model refuses loops on
// import; this only bounds a damaged one).
constexpr int kMaxDepth = 64;

bool StartsWith(const std::string& s, const std::string& prefix) {
  return !prefix.empty() && s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

StatusOr<std::shared_ptr<const Scope::Model>> Scope::Current() {
  const int64_t now = clock_.NowMillis();
  if (orgs_ == nullptr) {
    static const auto* empty = new std::shared_ptr<const Model>(std::make_shared<Model>());
    return *empty;
  }
  const uint64_t generation = orgs_->generation();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (model_ != nullptr && model_->generation == generation &&
        now - model_->read_at_ms < refresh_ms_ && now >= model_->read_at_ms) {
      return model_;
    }
  }
  auto model = std::make_shared<Model>();
  model->generation = generation;
  model->read_at_ms = now;
  BPM_ASSIGN_OR_RETURN(auto rows, orgs_->ListOrgs(store::OrgFilter{}, now));
  for (auto& row : rows) {
    std::string code = row.code;
    model->orgs.emplace(std::move(code), std::move(row));
  }
  std::lock_guard<std::mutex> lock(mu_);
  model_ = model;
  return std::shared_ptr<const Model>(std::move(model));
}

namespace {

// The region of an org: its own, else the nearest parent's.
std::string RegionOf(const std::unordered_map<std::string, store::OrgRow>& orgs,
                     const store::OrgRow& row) {
  const store::OrgRow* at = &row;
  for (int i = 0; i < kMaxDepth && at != nullptr; ++i) {
    if (!at->region_code.empty()) return at->region_code;
    auto it = orgs.find(at->parent_code);
    at = it == orgs.end() ? nullptr : &it->second;
  }
  return "";
}

}  // namespace

bool Scope::InModelScope(const Model& m, const store::OrgRow& caller, const std::string& target) {
  auto t = m.orgs.find(target);
  if (t == m.orgs.end()) return false;
  if (caller.kind == "unit" || caller.kind == "department") {
    const store::OrgRow* at = &t->second;
    for (int i = 0; i < kMaxDepth && at != nullptr; ++i) {
      if (at->code == caller.code) return true;
      auto it = m.orgs.find(at->parent_code);
      at = it == m.orgs.end() ? nullptr : &it->second;
    }
    return false;
  }
  if (caller.kind == "finance_section" && caller.section_kind == "business") {
    const store::OrgRow* at = &t->second;
    for (int i = 0; i < kMaxDepth && at != nullptr; ++i) {
      if (at->kind == "department" && at->owner_section == caller.code) return true;
      auto it = m.orgs.find(at->parent_code);
      at = it == m.orgs.end() ? nullptr : &it->second;
    }
    return false;
  }
  if (caller.kind == "finance_bureau" || caller.kind == "finance_section") {
    const std::string region = RegionOf(m.orgs, caller);
    return !region.empty() && RegionOf(m.orgs, t->second) == region;
  }
  return false;
}

StatusOr<bool> Scope::Covers(const std::string& caller_org, const std::string& target_org) {
  if (caller_org.empty() || target_org.empty()) return false;
  if (target_org == caller_org || StartsWith(target_org, caller_org)) return true;
  BPM_ASSIGN_OR_RETURN(auto model, Current());
  auto c = model->orgs.find(caller_org);
  return c != model->orgs.end() && InModelScope(*model, c->second, target_org);
}

StatusOr<std::string> Scope::KindOf(const std::string& org) {
  if (org.empty()) return std::string();
  BPM_ASSIGN_OR_RETURN(auto model, Current());
  auto it = model->orgs.find(org);
  return it == model->orgs.end() ? std::string() : it->second.kind;
}

StatusOr<Scope::Set> Scope::Within(const std::string& caller_org) {
  Set out;
  if (caller_org.empty()) return out;
  out.prefix = caller_org;
  BPM_ASSIGN_OR_RETURN(auto model, Current());
  auto c = model->orgs.find(caller_org);
  if (c == model->orgs.end()) return out;
  for (const auto& [code, row] : model->orgs) {
    if (!StartsWith(code, caller_org) && InModelScope(*model, c->second, code)) {
      out.codes.push_back(code);
    }
  }
  std::sort(out.codes.begin(), out.codes.end());
  return out;
}

}  // namespace bpm::org
