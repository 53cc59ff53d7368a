#include "core/store/audit.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/common/util.h"

namespace bpm::store {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

void Field(std::string* out, const std::string& v) {
  absl::StrAppend(out, v.size(), ":", v, "\n");
}

void Set(Struct* s, const char* key, const std::string& v) {
  (*s->mutable_fields())[key].set_string_value(v);
}
void Set(Struct* s, const char* key, int64_t v) {
  (*s->mutable_fields())[key].set_number_value(static_cast<double>(v));
}

std::string Where(const std::string& instance_id, int64_t seq) {
  return absl::StrCat("instance ", instance_id, " event ", seq);
}

int LowerHexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The 32 bytes of a SHA-256 written as 64 lowercase hex digits; false for
// any other text.
bool DecodeHash(const std::string& hex, std::array<uint8_t, 32>* out) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    const int hi = LowerHexDigit(hex[2 * i]);
    const int lo = LowerHexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

std::string EventHash(const EventRow& e) {
  std::string s = "bpm-event-1\n";
  Field(&s, e.instance_id);
  Field(&s, std::to_string(e.seq));
  Field(&s, std::to_string(e.at_ms));
  Field(&s, e.actor);
  Field(&s, e.kind);
  Field(&s, e.action);
  Field(&s, e.from_state);
  Field(&s, e.to_state);
  Field(&s, e.task_id);
  Field(&s, e.comment);
  Field(&s, e.payload_digest);
  Field(&s, e.note);
  Field(&s, e.source);
  Field(&s, e.prev_hash);
  return Sha256Hex(s);
}

std::string ChainHash(int64_t chain_seq, const std::string& chain_prev,
                      const std::string& event_hash) {
  std::string s = "bpm-chain-1\n";
  Field(&s, std::to_string(chain_seq));
  Field(&s, chain_prev);
  Field(&s, event_hash);
  return Sha256Hex(s);
}

void ChainEvents(std::string* instance_last, AuditHead* head, std::vector<EventRow>* events) {
  for (EventRow& e : *events) {
    e.prev_hash = *instance_last;
    e.hash = EventHash(e);
    *instance_last = e.hash;
    e.chain_seq = head->seq + 1;
    e.chain_prev = head->hash;
    e.chain_hash = ChainHash(e.chain_seq, e.chain_prev, e.hash);
    head->seq = e.chain_seq;
    head->hash = e.chain_hash;
  }
}

void AuditVerifier::Report(std::string where, std::string problem) {
  findings_.push_back({std::move(where), std::move(problem)});
}

void AuditVerifier::AddInstance(const AuditInstance& inst) {
  Mark& m = instances_[inst.id];
  m.event_seq = inst.event_seq;
  if (m.kind == Mark::Hash::kOther) other_hashes_.erase(inst.id);  // added twice
  if (inst.last_event_hash.empty()) {
    m.kind = Mark::Hash::kEmpty;
  } else if (DecodeHash(inst.last_event_hash, &m.hash)) {
    m.kind = Mark::Hash::kHex;
  } else {
    m.kind = Mark::Hash::kOther;
    other_hashes_[inst.id] = inst.last_event_hash;
  }
}

bool AuditVerifier::LastHashIs(const Marks::value_type& inst, const std::string& hash) const {
  const Mark& m = inst.second;
  switch (m.kind) {
    case Mark::Hash::kEmpty:
      return hash.empty();
    case Mark::Hash::kHex: {
      std::array<uint8_t, 32> decoded;
      return DecodeHash(hash, &decoded) && decoded == m.hash;
    }
    case Mark::Hash::kOther:
      break;
  }
  auto it = other_hashes_.find(inst.first);
  return it != other_hashes_.end() && it->second == hash;
}

void AuditVerifier::CloseInstance() {
  if (cur_.empty()) return;
  auto it = instances_.find(cur_);
  if (it == instances_.end()) return;  // reported with its first event
  const int64_t last = next_seq_ - 1;
  if (last < it->second.event_seq) {
    Report(Where(cur_, last + 1),
           absl::StrCat("missing: the instance's history ends at event ", it->second.event_seq,
                        " but only events up to ", last, " exist (deleted)"));
  } else if (!LastHashIs(*it, prev_hash_)) {
    Report(absl::StrCat("instance ", cur_),
           "the hash of its last event does not match the instance row (its last event was "
           "edited or replaced, or the instance row was edited)");
  }
}

void AuditVerifier::EndInstancePass() {
  if (finished_instances_) return;
  finished_instances_ = true;
  CloseInstance();
  cur_.clear();
  for (const auto& [id, inst] : instances_) {
    if (inst.event_seq > 0 && !inst.seen) {
      Report(absl::StrCat("instance ", id),
             absl::StrCat("all of its ", inst.event_seq, " events are missing (deleted)"));
    }
  }
}

void AuditVerifier::AddEvent(const EventRow& e) {
  ++events_;
  if (e.instance_id != cur_) {
    CloseInstance();
    cur_ = e.instance_id;
    next_seq_ = 1;
    prev_hash_.clear();
    if (auto it = instances_.find(cur_); it != instances_.end()) {
      it->second.seen = true;
    } else {
      Report(Where(e.instance_id, e.seq),
             "belongs to no instance (inserted, or its instance row was deleted)");
    }
  }
  const std::string where = Where(e.instance_id, e.seq);
  if (EventHash(e) != e.hash) {
    Report(where, "edited: its fields do not match its hash");
  }
  if (e.seq > next_seq_) {
    Report(Where(e.instance_id, next_seq_),
           next_seq_ + 1 == e.seq
               ? std::string("missing (deleted)")
               : absl::StrCat("missing, and every event up to ", e.seq - 1, " (deleted)"));
  } else if (e.seq < next_seq_) {
    Report(where, "out of order (reordered or inserted)");
  }
  if (e.prev_hash != prev_hash_ && e.seq <= next_seq_) {
    Report(where, e.seq == 1 ? "the first event links to an earlier one (inserted or reordered)"
                             : absl::StrCat("does not link to event ", e.seq - 1,
                                            " (an event was edited, inserted, deleted or "
                                            "reordered)"));
  }
  auto it = instances_.find(e.instance_id);
  if (it != instances_.end() && e.seq > it->second.event_seq) {
    Report(where, absl::StrCat("after the instance's last event ", it->second.event_seq,
                               " (inserted)"));
  }
  next_seq_ = std::max(next_seq_, e.seq + 1);
  prev_hash_ = e.hash;
}

void AuditVerifier::AddChainEvent(const EventRow& e) {
  EndInstancePass();
  const std::string where =
      absl::StrCat("global position ", e.chain_seq, " (", Where(e.instance_id, e.seq), ")");
  if (e.chain_seq <= 0) {
    Report(Where(e.instance_id, e.seq), "not in the global chain (inserted outside bpmd)");
    return;
  }
  if (e.chain_seq > next_chain_) {
    Report(absl::StrCat("global position ", next_chain_),
           e.chain_seq == next_chain_ + 1
               ? std::string("missing (deleted)")
               : absl::StrCat("missing, and every position up to ", e.chain_seq - 1,
                              " (deleted)"));
  } else if (e.chain_seq < next_chain_) {
    Report(where, "appears twice (inserted)");
  }
  if (e.chain_seq <= next_chain_ && e.chain_prev != chain_prev_) {
    Report(where, "does not link to the position before it (edited, inserted or reordered)");
  }
  if (ChainHash(e.chain_seq, e.chain_prev, e.hash) != e.chain_hash) {
    Report(where, "edited: its link does not match the event's hash");
  }
  auto anchor = anchors_.find(e.chain_seq);
  if (anchor != anchors_.end()) {
    if (anchor->second != e.chain_hash) {
      Report(where, "differs from the anchor recorded earlier (history was rewritten)");
    }
    anchors_.erase(anchor);
  }
  next_chain_ = std::max(next_chain_, e.chain_seq + 1);
  chain_prev_ = e.chain_hash;
}

std::vector<AuditFinding> AuditVerifier::Finish(const AuditHead& head) {
  EndInstancePass();
  const int64_t last = next_chain_ - 1;
  if (last != head.seq || chain_prev_ != head.hash) {
    Report("audit head",
           last < head.seq
               ? absl::StrCat("the global chain ends at position ", last, " but the head is at ",
                              head.seq, " (the last events were deleted)")
               : absl::StrCat("the global chain ends at position ", last,
                              " with a different link than the head records (the head or the "
                              "last events were edited, or events were inserted)"));
  }
  for (const auto& [seq, hash] : anchors_) {
    Report(absl::StrCat("global position ", seq),
           "an anchor names it but the chain does not reach it (deleted)");
  }
  anchors_.clear();
  return std::move(findings_);
}

std::string AuditHeaderLine(const AuditHead& head, int64_t exported_at_ms) {
  Struct s;
  Set(&s, "format", std::string("bpm-audit-1"));
  Set(&s, "head_seq", head.seq);
  Set(&s, "head_hash", head.hash);
  Set(&s, "exported_at_unix_ms", exported_at_ms);
  return CanonicalJson(s);
}

std::string AuditInstanceLine(const AuditInstance& inst) {
  Struct s;
  Struct* i = (*s.mutable_fields())["instance"].mutable_struct_value();
  Set(i, "id", inst.id);
  Set(i, "event_seq", inst.event_seq);
  Set(i, "last_event_hash", inst.last_event_hash);
  return CanonicalJson(s);
}

std::string AuditEventLine(const EventRow& e) {
  Struct s;
  Struct* v = (*s.mutable_fields())["event"].mutable_struct_value();
  Set(v, "instance_id", e.instance_id);
  Set(v, "seq", e.seq);
  Set(v, "at_ms", e.at_ms);
  Set(v, "actor", e.actor);
  Set(v, "kind", e.kind);
  Set(v, "action", e.action);
  Set(v, "from_state", e.from_state);
  Set(v, "to_state", e.to_state);
  Set(v, "task_id", e.task_id);
  Set(v, "comment", e.comment);
  Set(v, "payload_digest", e.payload_digest);
  Set(v, "note", e.note);
  Set(v, "source", e.source);
  Set(v, "prev_hash", e.prev_hash);
  Set(v, "hash", e.hash);
  Set(v, "chain_seq", e.chain_seq);
  Set(v, "chain_prev", e.chain_prev);
  Set(v, "chain_hash", e.chain_hash);
  return CanonicalJson(s);
}

namespace {

// Reads field key of s; a missing or mistyped field is an error naming it.
class Reader {
 public:
  Reader(const Struct& s, std::string where) : s_(s), where_(std::move(where)) {}
  std::string Str(const char* key) {
    auto it = s_.fields().find(key);
    if (it == s_.fields().end() || it->second.kind_case() != Value::kStringValue) {
      Fail(key, "a string");
      return "";
    }
    return it->second.string_value();
  }
  int64_t Int(const char* key) {
    auto it = s_.fields().find(key);
    if (it == s_.fields().end() || it->second.kind_case() != Value::kNumberValue) {
      Fail(key, "a number");
      return 0;
    }
    // A JSON number is a double: only whole numbers that an int64 holds
    // exactly (|n| <= 2^53) are positions and times; anything else (1e300,
    // 0.5) is refused rather than cast.
    const double n = it->second.number_value();
    constexpr double kExact = 9007199254740992.0;  // 2^53
    if (!(n >= -kExact && n <= kExact) || n != std::trunc(n)) {
      Fail(key, "a whole number within 2^53");
      return 0;
    }
    return static_cast<int64_t>(n);
  }
  const Status& status() const { return status_; }

 private:
  void Fail(const char* key, const char* want) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat(where_, ": field '", key, "' is missing or not ", want));
    }
  }
  const Struct& s_;
  std::string where_;
  Status status_;
};

}  // namespace

StatusOr<AuditLines> WriteAuditLines(Store& store, std::ostream& out) {
  AuditLines written;
  std::string line;
  auto put = [&] {
    line.push_back('\n');
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
  };
  BPM_ASSIGN_OR_RETURN(written.head, store.ScanAudit(
                                         [&](const AuditInstance& i) {
                                           line = AuditInstanceLine(i);
                                           put();
                                         },
                                         [&](const EventRow& e) {
                                           ++written.events;
                                           line = AuditEventLine(e);
                                           put();
                                         },
                                         nullptr));
  return written;
}

namespace {

// One non-empty line of an export, parsed.
struct FileLine {
  enum class Kind { kHeader, kInstance, kEvent } kind = Kind::kHeader;
  AuditHead head;
  AuditInstance instance;
  EventRow event;
};

// header: the file's first non-empty line, which must be the header.
StatusOr<FileLine> ParseLine(const std::string& line, const std::string& where, bool header) {
  auto parsed = ParseJsonObject(line, where);
  if (!parsed.ok()) return parsed.status();
  const auto& fields = parsed->fields();
  FileLine out;
  if (header) {
    Reader r(*parsed, where);
    if (r.Str("format") != "bpm-audit-1") {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": not a bpm audit export (format 'bpm-audit-1' expected)"));
    }
    out.head.seq = r.Int("head_seq");
    out.head.hash = r.Str("head_hash");
    if (!r.status().ok()) return r.status();
    return out;
  }
  if (auto it = fields.find("instance"); it != fields.end() && it->second.has_struct_value()) {
    Reader r(it->second.struct_value(), where);
    out.kind = FileLine::Kind::kInstance;
    out.instance = AuditInstance{r.Str("id"), r.Int("event_seq"), r.Str("last_event_hash")};
    if (!r.status().ok()) return r.status();
    return out;
  }
  if (auto ev = fields.find("event"); ev != fields.end() && ev->second.has_struct_value()) {
    Reader r(ev->second.struct_value(), where);
    out.kind = FileLine::Kind::kEvent;
    EventRow& e = out.event;
    e.instance_id = r.Str("instance_id");
    e.seq = r.Int("seq");
    e.at_ms = r.Int("at_ms");
    e.actor = r.Str("actor");
    e.kind = r.Str("kind");
    e.action = r.Str("action");
    e.from_state = r.Str("from_state");
    e.to_state = r.Str("to_state");
    e.task_id = r.Str("task_id");
    e.comment = r.Str("comment");
    e.payload_digest = r.Str("payload_digest");
    e.note = r.Str("note");
    e.source = r.Str("source");
    e.prev_hash = r.Str("prev_hash");
    e.hash = r.Str("hash");
    e.chain_seq = r.Int("chain_seq");
    e.chain_prev = r.Str("chain_prev");
    e.chain_hash = r.Str("chain_hash");
    if (!r.status().ok()) return r.status();
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": neither an 'instance' nor an 'event' line"));
}

// The order the verifier's instance pass takes events in.
bool InstanceOrder(const EventRow& a, const EventRow& b) {
  return a.instance_id != b.instance_id ? a.instance_id < b.instance_id : a.seq < b.seq;
}

// Reads the export at path in order: its header into *head, then fn(line,
// offset where it starts) for each instance and event line. NOT_FOUND and
// INVALID_ARGUMENT as VerifyAuditFile.
template <typename Fn>
Status ReadLines(const std::string& path, AuditHead* head, Fn&& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string line;
  int64_t n = 0;
  int64_t offset = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++n;
    const int64_t at = offset;
    offset += static_cast<int64_t>(line.size()) + 1;
    if (line.empty()) continue;
    BPM_ASSIGN_OR_RETURN(FileLine l, ParseLine(line, absl::StrCat(path, ":", n), !header));
    if (!header) {
      *head = l.head;
      header = true;
      continue;
    }
    fn(l, at);
  }
  if (!header) return absl::InvalidArgumentError(absl::StrCat(path, ": empty, no header line"));
  return absl::OkStatus();
}

// Reads a whole file into memory and runs the three passes over it: for files
// whose lines are not in the order an export writes them.
StatusOr<AuditFileReport> VerifyInMemory(const std::string& path,
                                         const std::map<int64_t, std::string>& anchors) {
  AuditFileReport report;
  std::vector<AuditInstance> instances;
  std::vector<EventRow> events;
  BPM_RETURN_IF_ERROR(ReadLines(path, &report.head, [&](FileLine& l, int64_t) {
    if (l.kind == FileLine::Kind::kInstance) {
      instances.push_back(std::move(l.instance));
    } else {
      events.push_back(std::move(l.event));
    }
  }));
  AuditVerifier v;
  for (const auto& [seq, hash] : anchors) v.Anchor(seq, hash);
  for (const AuditInstance& inst : instances) v.AddInstance(inst);
  std::stable_sort(events.begin(), events.end(), InstanceOrder);
  for (const EventRow& e : events) v.AddEvent(e);
  std::stable_sort(events.begin(), events.end(),
                   [](const EventRow& a, const EventRow& b) { return a.chain_seq < b.chain_seq; });
  for (const EventRow& e : events) v.AddChainEvent(e);
  report.events = v.events();
  report.findings = v.Finish(report.head);
  report.streamed = false;
  return report;
}

}  // namespace

StatusOr<AuditFileReport> VerifyAuditFile(const std::string& path,
                                          const std::map<int64_t, std::string>& anchors,
                                          AuditFileRead read) {
  if (read == AuditFileRead::kInMemory) return VerifyInMemory(path, anchors);
  AuditFileReport report;
  AuditVerifier v;
  for (const auto& [seq, hash] : anchors) v.Anchor(seq, hash);
  // Pass 1, reading the file in order: the instances, then each event into
  // the instance pass as it comes. The chain pass needs chain_seq order; for
  // it only each event's position and the offset of its line are kept.
  std::vector<std::pair<int64_t, int64_t>> chain;  // (chain_seq, line offset)
  bool in_order = true;  // instances first, then events in InstanceOrder
  EventRow previous;     // instance_id and seq of the last event read
  bool any_event = false;
  BPM_RETURN_IF_ERROR(ReadLines(path, &report.head, [&](FileLine& l, int64_t at) {
    if (l.kind == FileLine::Kind::kInstance) {
      in_order = in_order && !any_event;
      if (in_order) v.AddInstance(l.instance);
      return;
    }
    in_order = in_order && !(any_event && InstanceOrder(l.event, previous));
    if (in_order) {
      v.AddEvent(l.event);
      chain.emplace_back(l.event.chain_seq, at);
    }
    previous.instance_id = std::move(l.event.instance_id);
    previous.seq = l.event.seq;
    any_event = true;
  }));
  // Not as an export writes it (edited by hand, or made elsewhere): the
  // passes then need every event in memory to put them in order.
  if (!in_order) return VerifyInMemory(path, anchors);
  // Pass 3: each event's line read again, in chain_seq order (ties in file
  // order, as the in-memory passes take them).
  std::sort(chain.begin(), chain.end());
  std::ifstream in(path, std::ios::binary);
  std::string line;
  for (const auto& [chain_seq, at] : chain) {
    in.seekg(at);
    if (!std::getline(in, line)) {
      return absl::DataLossError(absl::StrCat(path, ": changed while it was being verified"));
    }
    auto l = ParseLine(line, absl::StrCat(path, " at byte ", at), false);
    if (!l.ok() || l->kind != FileLine::Kind::kEvent || l->event.chain_seq != chain_seq) {
      return absl::DataLossError(absl::StrCat(path, ": changed while it was being verified"));
    }
    v.AddChainEvent(l->event);
  }
  report.events = v.events();
  report.findings = v.Finish(report.head);
  report.streamed = true;
  return report;
}

}  // namespace bpm::store
