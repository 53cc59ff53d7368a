// The tamper-evident audit trail: hash chains over the history events, and
// their verification.
//
// Every event carries two links, both set by the store when it writes the
// event (never by the engine or a plugin):
//   - the instance's chain: prev_hash is the hash of the instance's previous
//     event ("" for its first) and hash = EventHash(event), over every field
//     and prev_hash; instances.last_event_hash is the hash of its last event;
//   - the global chain over all events in write order: chain_seq counts from
//     1, chain_prev is the previous position's chain_hash ("" for the first)
//     and chain_hash = ChainHash(chain_seq, chain_prev, hash); audit_head holds
//     the last position and its chain_hash.
// An edited field changes the event's hash; a deleted, inserted or reordered
// event breaks a link or a count. Someone who can write the database can
// recompute every hash after an edit: the chain head, exported or written
// down (`bpmctl audit export` prints it), is the anchor that catches that
// (`bpmctl audit verify --anchor SEQ:HASH`).
//
// Thread safety: the functions are pure; an AuditVerifier is used by one
// thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/store/store.h"

namespace bpm::store {

// SHA-256 (hex) of the event's fields and prev_hash, each length-prefixed.
std::string EventHash(const EventRow& e);

// SHA-256 (hex) of a global chain position.
std::string ChainHash(int64_t chain_seq, const std::string& chain_prev,
                      const std::string& event_hash);

// Links events (one instance's, in seq order) after *instance_last in the
// instance's chain and after *head in the global chain, and advances both.
void ChainEvents(std::string* instance_last, AuditHead* head, std::vector<EventRow>* events);

// One problem found: where (an event, a global position, an instance, the
// head) and what is wrong with it.
struct AuditFinding {
  std::string where;
  std::string problem;

  // "where: problem", one line as bpmctl prints it.
  std::string Text() const { return where + ": " + problem; }
};

// Verifies a trail given in three passes: every instance row (any order),
// every event in (instance_id, seq) order, then every event in chain_seq
// order; Finish() compares the global chain's end with the head and returns
// the findings (empty: intact).
class AuditVerifier {
 public:
  // Chain positions whose chain_hash must be as given (anchors recorded
  // earlier, e.g. from an export): a rewritten history fails them.
  void Anchor(int64_t chain_seq, std::string chain_hash) { anchors_[chain_seq] = chain_hash; }

  void AddInstance(const AuditInstance& inst);
  void AddEvent(const EventRow& e);       // pass 2: (instance_id, seq) order
  void AddChainEvent(const EventRow& e);  // pass 3: chain_seq order
  std::vector<AuditFinding> Finish(const AuditHead& head);

  int64_t events() const { return events_; }
  int64_t instances() const { return static_cast<int64_t>(instances_.size()); }

 private:
  // What the passes need of an instance row, kept small (a trail holds
  // millions): its last event's hash as 32 bytes when it is 64 lowercase hex
  // digits, as bpmd writes it; any other text (an edited row) is kept aside.
  struct Mark {
    enum class Hash : uint8_t { kEmpty, kHex, kOther };
    int64_t event_seq = 0;
    std::array<uint8_t, 32> hash{};
    Hash kind = Hash::kEmpty;
    bool seen = false;  // had events in the instance pass
  };
  using Marks = std::unordered_map<std::string, Mark>;

  void Report(std::string where, std::string problem);
  void CloseInstance();
  void EndInstancePass();  // after the last AddEvent
  // Whether the row's last_event_hash was exactly hash.
  bool LastHashIs(const Marks::value_type& inst, const std::string& hash) const;

  Marks instances_;
  std::unordered_map<std::string, std::string> other_hashes_;  // Hash::kOther's text
  std::map<int64_t, std::string> anchors_;
  std::vector<AuditFinding> findings_;
  int64_t events_ = 0;
  // Pass 2: the instance being read.
  std::string cur_;
  int64_t next_seq_ = 1;
  std::string prev_hash_;
  // Pass 3.
  int64_t next_chain_ = 1;
  std::string chain_prev_;
  bool finished_instances_ = false;
};

// The export file: JSON Lines. A header {"format":"bpm-audit-1",
// "head_seq":N,"head_hash":H,"exported_at_unix_ms":T}, then one
// {"instance":...} line per instance and one {"event":...} line per event.
// The Audit*Line functions write it; VerifyAuditFile reads it.
std::string AuditHeaderLine(const AuditHead& head, int64_t exported_at_ms);
std::string AuditInstanceLine(const AuditInstance& inst);
std::string AuditEventLine(const EventRow& e);

// Writes store's trail to out as an export's lines after the header: every
// instance line, then every event line by instance and seq, one at a time.
// Returns the head the header names and the number of events (the header
// needs the head, which the scan reaches last: callers write the lines
// aside and the header first). Errors: ScanAudit's.
struct AuditLines {
  AuditHead head;
  int64_t events = 0;
};
StatusOr<AuditLines> WriteAuditLines(Store& store, std::ostream& out);

// What verifying an export file found.
struct AuditFileReport {
  AuditHead head;  // as the file's header gives it
  int64_t events = 0;
  std::vector<AuditFinding> findings;  // empty: intact
  // true: the file was in export order (instance lines, then events by
  // instance and seq) and was verified as it was read, holding 16 bytes per
  // event (its global position and where its line starts) besides the
  // instances. false: its lines were out of that order, and every event was
  // held in memory to sort it (the findings are the same either way).
  bool streamed = false;
};

// How VerifyAuditFile reads a file.
enum class AuditFileRead {
  kStreamWhenInOrder,  // streamed unless its lines are out of export order
  kInMemory,           // every event in memory: a cross-check (tests, fuzzing)
};

// Verifies an export file: the three passes over its contents, the third
// reading each event's line again in chain_seq order. NOT_FOUND when it
// cannot be opened; INVALID_ARGUMENT naming the line of anything it cannot
// read; DATA_LOSS if it changes while being verified.
StatusOr<AuditFileReport> VerifyAuditFile(
    const std::string& path, const std::map<int64_t, std::string>& anchors,
    AuditFileRead read = AuditFileRead::kStreamWhenInOrder);

}  // namespace bpm::store
