// Internal to core/engine: the variables of one instance during one command.
//
// A command usually needs a few of an instance's variables (a review stage its
// chain's state, a condition one grade) while the stored JSON is mostly a
// filed form. The stored text is split into its top-level members
// (CanonicalJsonMembers), and a member is parsed only when something asks for
// it; Encode then copies every member nobody changed from the stored text
// (CanonicalJsonUpdate). A stored text not in the canonical layout is parsed
// whole at Load.
//
// Every read goes through All() or With(names), which parse what is asked for
// first: nothing can see a variable missing because it was not parsed yet.
//
// Errors: a stored variable that does not parse is DATA_LOSS naming the
// instance's text and the variable; the command fails rather than write back
// variables without it.
// Thread safety: none; one per command. Ownership: Load's text is viewed,
// not copied: it must stay alive and unchanged while the object is used
// (Engine::Finish replaces it only after the last use).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/common/json.h"
#include "core/common/status.h"
#include "google/protobuf/struct.pb.h"

namespace bpm::engine::internal {

class InstanceVars {
 public:
  // The variables as stored; `what` names them in errors ("instance X").
  // DATA_LOSS when a text not in the canonical layout does not parse.
  Status Load(const std::string& stored, std::string what);
  // Replaces all of them (a new instance, a withdrawal): Encode writes them
  // whole.
  void Replace(google::protobuf::Struct all);

  // Every variable, parsing those not parsed yet.
  StatusOr<google::protobuf::Struct*> All();
  // The variables with at least `names` (those of them the instance has)
  // parsed; others may be missing from the Struct. Changes to the Struct's
  // values must be recorded with Set, or Encode does not see them.
  StatusOr<google::protobuf::Struct*> With(const std::vector<std::string>& names);
  // Sets key to *v (moved: *v is left empty), whatever was stored.
  void Set(const std::string& key, google::protobuf::Value* v);
  // Removes key, whatever was stored.
  void Remove(const std::string& key);

  // What undoes the changes since Load: the changed variables as they were
  // stored, as a canonical JSON object (their text copied), and those that
  // were not stored. False after Replace or for a stored text not in the
  // canonical layout (the whole stored text undoes those).
  bool Undo(std::string* before_json, std::vector<std::string>* added) const;
  // Applies what Undo gave. INVALID_ARGUMENT when before_json is not a JSON
  // object.
  Status ApplyUndo(std::string_view before_json, const std::vector<std::string>& added);

  // The canonical JSON of the variables as they are now.
  std::string Encode() const;

 private:
  // Parses stored_[i] into parsed_ (once).
  Status Parse(size_t i);
  // The index in stored_ of key; stored_.size() when it was not stored.
  size_t Find(std::string_view key) const;
  // The changed keys, sorted, once each.
  std::vector<std::string> Changed() const;

  google::protobuf::Struct parsed_;
  std::string what_;
  // The stored text's members (ascending keys) and whether each still waits
  // to be parsed (not parsed, not replaced by Set).
  std::vector<JsonMember> stored_;
  std::vector<bool> pending_;
  // Whether Encode may copy unchanged members from the stored text; false
  // after Replace and for a text that is not canonical.
  bool from_stored_ = false;
  std::vector<std::string> changed_;  // keys Set, for Encode
};

}  // namespace bpm::engine::internal
