// The tamper-evident audit trail (core/store/audit.h), end to end:
//   - history written by a real bpmd over gRPC (started and submitted with the
//     real bpmctl) is chained, carries where each call came from, and
//     `bpmctl audit verify` calls it intact, from the store and from an export;
//   - each kind of tampering done directly in the database (edit, edit with a
//     recomputed hash, delete, insert, reorder, edited head, a whole rewritten
//     history against an anchor) is found and the row named;
//   - an edited export file is found too.
// ctest runs it on SQLite (label integration) and on the private MariaDB
// (label mysql), selected by BPM_TEST_BACKEND.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bpm/v1/bpm.pb.h"
#include "core/store/audit.h"
#include "core/store/internal/soci_db.h"
#include "core/store/store.h"
#include "tests/support/bpmctl_runner.h"
#include "tests/support/test_env.h"

namespace bpm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::Dump;
using testing::Result;
using testing::RunBpmctl;

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::FreshStoreUrl(dir_.path(), "audit");
    auto opened = store::Store::Open(url_, 2);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
    // Three instances with 3, 4 and 2 events, written as three commands each
    // would be: the instance's insert, then updates at increasing versions.
    for (int i = 0; i < 3; ++i) {
      const std::string id = "inst" + std::to_string(i);
      ids_.push_back(id);
      store::InstanceRow row;
      row.id = id;
      row.def_key = "target-filing";
      row.def_version = 1;
      row.subject_ref = "P" + std::to_string(i);
      row.org = "906017";
      row.status = "running";
      row.state = "draft";
      row.variables_json = "{}";
      row.version = 1;
      row.started_by = "zhang";
      store::Commit start;
      AddEvents(&row, &start, 1);
      start.insert_instance = row;
      ASSERT_TRUE(store_->Apply(start).ok());
      for (int more = 0; more < i + 1; ++more) {
        auto read = store_->GetInstance(id);
        ASSERT_TRUE(read.ok()) << read.status();
        store::InstanceRow next = *read;
        next.version += 1;
        store::Commit c;
        c.expected_version = read->version;
        AddEvents(&next, &c, more == 0 ? 2 : 1);
        c.update_instance = next;
        Status applied = store_->Apply(c);
        ASSERT_TRUE(applied.ok()) << applied;
      }
    }
    ASSERT_THAT(Verify(), IsEmpty());
    auto parsed = store::internal::ParseUrl(url_);
    ASSERT_TRUE(parsed.ok());
    if (parsed->dialect == "sqlite3") {
      sql_ = std::make_unique<soci::session>(soci::sqlite3, parsed->connect);
    } else {
      sql_ = std::make_unique<soci::session>(soci::mysql, parsed->connect);
    }
  }

  static void AddEvents(store::InstanceRow* row, store::Commit* c, int n) {
    for (int k = 0; k < n; ++k) {
      store::EventRow e;
      e.instance_id = row->id;
      e.seq = ++row->event_seq;
      e.at_ms = 1000 + e.seq;
      e.actor = "zhang";
      e.kind = "acted";
      e.action = "submit";
      e.comment = "意见 " + std::to_string(e.seq);
      e.source = "ipv4:10.0.0.7:5000";
      c->events.push_back(e);
    }
  }

  // What `bpmctl audit verify --store` finds, as "where: problem" lines.
  // The same trail exported as `bpmctl audit export` writes it, and verified
  // from that file as it is read, must find the same: each tampering test
  // below checks both.
  std::vector<std::string> Verify(const std::map<int64_t, std::string>& anchors = {}) {
    store::AuditVerifier v;
    for (const auto& [seq, hash] : anchors) v.Anchor(seq, hash);
    auto head = store_->ScanAudit([&](const store::AuditInstance& i) { v.AddInstance(i); },
                                  [&](const store::EventRow& e) { v.AddEvent(e); },
                                  [&](const store::EventRow& e) { v.AddChainEvent(e); });
    EXPECT_TRUE(head.ok()) << head.status();
    std::vector<std::string> out = Lines(v.Finish(head.ok() ? *head : store::AuditHead{}));
    auto from_file = store::VerifyAuditFile(Export(), anchors);
    EXPECT_TRUE(from_file.ok()) << from_file.status();
    if (from_file.ok()) {
      EXPECT_TRUE(from_file->streamed);
      EXPECT_THAT(Lines(from_file->findings), ::testing::UnorderedElementsAreArray(out));
    }
    return out;
  }

  static std::vector<std::string> Lines(const std::vector<store::AuditFinding>& findings) {
    std::vector<std::string> out;
    for (const auto& f : findings) out.push_back(f.Text());
    return out;
  }

  // The trail as `bpmctl audit export` writes it; the file's path.
  std::string Export() {
    std::ostringstream body;
    auto written = store::WriteAuditLines(*store_, body);
    EXPECT_TRUE(written.ok()) << written.status();
    const std::string file = dir_.path() + "/export.jsonl";
    testing::WriteFile(
        file, store::AuditHeaderLine(written.ok() ? written->head : store::AuditHead{}, 0) +
                  "\n" + body.str());
    return file;
  }

  std::vector<store::EventRow> Events(const std::string& instance) {
    auto events = store_->ListEvents(instance);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<store::EventRow>{};
  }

  // Rewrites an event's stored hashes as an attacker who knows the format
  // would, after editing it.
  void RehashInstanceChain(const std::string& instance) {
    std::string prev;
    for (store::EventRow e : Events(instance)) {
      e.prev_hash = prev;
      e.hash = store::EventHash(e);
      prev = e.hash;
      *sql_ << "UPDATE events SET prev_hash = :p, hash = :h WHERE instance_id = :i AND seq = :s",
          soci::use(e.prev_hash, "p"), soci::use(e.hash, "h"), soci::use(e.instance_id, "i"),
          soci::use(e.seq, "s");
    }
    *sql_ << "UPDATE instances SET last_event_hash = :h WHERE id = :i", soci::use(prev, "h"),
        soci::use(instance, "i");
  }

  // ... and the global chain from its start, and the head.
  void RehashGlobalChain() {
    std::vector<store::EventRow> all;
    for (const std::string& id : ids_) {
      for (const auto& e : Events(id)) all.push_back(e);
    }
    std::sort(all.begin(), all.end(),
              [](const store::EventRow& a, const store::EventRow& b) {
                return a.chain_seq < b.chain_seq;
              });
    std::string prev;
    for (store::EventRow& e : all) {
      e.chain_prev = prev;
      e.chain_hash = store::ChainHash(e.chain_seq, e.chain_prev, e.hash);
      prev = e.chain_hash;
      *sql_ << "UPDATE events SET chain_prev = :p, chain_hash = :h WHERE instance_id = :i AND "
               "seq = :s",
          soci::use(e.chain_prev, "p"), soci::use(e.chain_hash, "h"),
          soci::use(e.instance_id, "i"), soci::use(e.seq, "s");
    }
    *sql_ << "UPDATE audit_head SET hash = :h WHERE id = 1", soci::use(prev, "h");
  }

  store::AuditHead Head() {
    store::AuditHead h;
    *sql_ << "SELECT seq, hash FROM audit_head WHERE id = 1", soci::into(h.seq),
        soci::into(h.hash);
    return h;
  }

  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<soci::session> sql_;
  std::vector<std::string> ids_;
};

MATCHER_P2(Finding, where, problem, "") {
  for (const std::string& line : arg) {
    if (line.find(where) != std::string::npos && line.find(problem) != std::string::npos) {
      return true;
    }
  }
  *result_listener << "no finding at '" << where << "' saying '" << problem << "'";
  return false;
}

TEST_F(AuditTest, EachEventLinksToTheInstancesPreviousEventAndToTheGlobalChain) {
  const auto events = Events("inst1");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].prev_hash, "");
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].hash, store::EventHash(events[i]));
    if (i > 0) {
      EXPECT_EQ(events[i].prev_hash, events[i - 1].hash);
    }
    EXPECT_EQ(events[i].chain_hash,
              store::ChainHash(events[i].chain_seq, events[i].chain_prev, events[i].hash));
  }
  EXPECT_EQ(Head().seq, 12);
  auto inst = store_->GetInstance("inst1");
  ASSERT_TRUE(inst.ok());
  EXPECT_EQ(inst->last_event_hash, events.back().hash);
}

TEST_F(AuditTest, AnEditedEventIsNamed) {
  *sql_ << "UPDATE events SET comment = 'forged' WHERE instance_id = 'inst1' AND seq = 2";
  EXPECT_THAT(Verify(), Finding("instance inst1 event 2", "edited"));
}

// The verifier keeps an instance row's hash as 32 bytes when it is what bpmd
// writes (64 lowercase hex digits) and any other text as it is: an edited row
// is named whatever it was edited to, and nothing else.
TEST_F(AuditTest, AnEditedInstanceRowIsNamedWhateverItHolds) {
  const std::string right = Events("inst1").back().hash;
  ASSERT_EQ(right.size(), 64u);
  std::string upper = right;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string one_digit = right;
  one_digit[63] = one_digit[63] == '0' ? '1' : '0';
  for (const std::string& edited : {upper, one_digit, std::string("not a hash"),
                                    right.substr(0, 63), std::string()}) {
    *sql_ << "UPDATE instances SET last_event_hash = :h WHERE id = 'inst1'", soci::use(edited, "h");
    const auto found = Verify();
    EXPECT_THAT(found, ElementsAre("instance inst1: the hash of its last event does not match the "
                                   "instance row (its last event was edited or replaced, or the "
                                   "instance row was edited)"))
        << "edited to '" << edited << "'";
  }
  *sql_ << "UPDATE instances SET last_event_hash = :h WHERE id = 'inst1'", soci::use(right, "h");
  EXPECT_THAT(Verify(), IsEmpty());
}

TEST_F(AuditTest, AnEditedEventWithRecomputedInstanceHashesBreaksTheGlobalChain) {
  *sql_ << "UPDATE events SET actor = 'li' WHERE instance_id = 'inst2' AND seq = 1";
  RehashInstanceChain("inst2");
  const auto found = Verify();
  EXPECT_THAT(found, Finding("(instance inst2 event 1)", "edited: its link"));
  EXPECT_THAT(found, Finding("(instance inst2 event 2)", "edited: its link"));
}

TEST_F(AuditTest, ARewrittenHistoryFailsTheAnchorRecordedBeforeIt) {
  const store::AuditHead anchor = Head();
  *sql_ << "UPDATE events SET comment = 'rewritten' WHERE instance_id = 'inst0' AND seq = 1";
  RehashInstanceChain("inst0");
  RehashGlobalChain();
  EXPECT_THAT(Verify(), IsEmpty()) << "a consistent rewrite is only caught by an anchor";
  EXPECT_THAT(Verify({{anchor.seq, anchor.hash}}),
              Finding("global position " + std::to_string(anchor.seq), "anchor"));
}

TEST_F(AuditTest, ADeletedEventIsNamed) {
  const int64_t pos = Events("inst1")[1].chain_seq;
  *sql_ << "DELETE FROM events WHERE instance_id = 'inst1' AND seq = 2";
  const auto found = Verify();
  EXPECT_THAT(found, Finding("instance inst1 event 2", "missing (deleted)"));
  EXPECT_THAT(found, Finding("global position " + std::to_string(pos), "missing (deleted)"));
}

TEST_F(AuditTest, ADeletedLastEventIsNamed) {
  *sql_ << "DELETE FROM events WHERE instance_id = 'inst2' AND seq = 5";
  const auto found = Verify();
  EXPECT_THAT(found, Finding("instance inst2 event 5", "deleted"));
  EXPECT_THAT(found, Finding("audit head", "the last events were deleted"));
}

TEST_F(AuditTest, AnInsertedEventIsNamed) {
  *sql_ << "INSERT INTO events (instance_id, seq, at_ms, actor, kind, action, from_state, "
           "to_state, task_id, comment, payload_digest, note, source, prev_hash, hash, "
           "chain_seq, chain_prev, chain_hash) VALUES ('inst0', 4, 1004, 'li', 'acted', "
           "'approve', 'draft', 'done', '', 'inserted', '', '', '', '', '', 0, '', '')";
  const auto found = Verify();
  EXPECT_THAT(found, Finding("instance inst0 event 4", "after the instance's last event"));
  EXPECT_THAT(found, Finding("instance inst0 event 4", "not in the global chain"));
}

TEST_F(AuditTest, ReorderedEventsAreNamed) {
  // Swap events 2 and 3 of inst1 (seq is part of the primary key: via -1).
  *sql_ << "UPDATE events SET seq = -1 WHERE instance_id = 'inst1' AND seq = 2";
  *sql_ << "UPDATE events SET seq = 2 WHERE instance_id = 'inst1' AND seq = 3";
  *sql_ << "UPDATE events SET seq = 3 WHERE instance_id = 'inst1' AND seq = -1";
  const auto found = Verify();
  EXPECT_THAT(found, Finding("instance inst1 event 2", "edited"));
  EXPECT_THAT(found, Finding("instance inst1 event 3", "edited"));
}

TEST_F(AuditTest, AnEditedHeadIsNamed) {
  *sql_ << "UPDATE audit_head SET hash = '0000000000000000000000000000000000000000000000000000000000000000' WHERE id = 1";
  EXPECT_THAT(Verify(), Finding("audit head", "different link"));
}

TEST_F(AuditTest, CommitsAfterTamperingDoNotHideIt) {
  *sql_ << "UPDATE events SET note = 'forged' WHERE instance_id = 'inst0' AND seq = 1";
  auto read = store_->GetInstance("inst0");
  ASSERT_TRUE(read.ok());
  store::InstanceRow next = *read;
  next.version += 1;
  store::Commit c;
  c.expected_version = read->version;
  AddEvents(&next, &c, 1);
  c.update_instance = next;
  ASSERT_TRUE(store_->Apply(c).ok());
  const auto found = Verify();
  EXPECT_THAT(found, Finding("instance inst0 event 1", "edited"));
  EXPECT_EQ(found.size(), 1u) << ::testing::PrintToString(found);
}

// A store upgraded from before the audit trail: migration 0010 counted the
// unchained events; opening the store chains exactly those. An unchained
// event inserted later is not blessed by the next open.
TEST_F(AuditTest, EventsFromBeforeTheAuditTrailAreChainedOnceWhenTheStoreOpens) {
  *sql_ << "INSERT INTO instances (id, def_key, def_version, subject_ref, org, status, state, "
           "variables, version, event_seq, started_by, created_ms, updated_ms, campaign_id) "
           "VALUES ('old1', 'target-filing', 1, 'P9', '906017', 'completed', 'done', '{}', 3, "
           "2, 'zhang', 1, 2, '')";
  for (int seq = 1; seq <= 2; ++seq) {
    *sql_ << "INSERT INTO events (instance_id, seq, at_ms, actor, kind, action, from_state, "
             "to_state, task_id, comment, payload_digest, note) VALUES ('old1', :s, 5, "
             "'zhang', 'acted', 'submit', 'draft', 'done', '', '', '', '')",
        soci::use(seq, "s");
  }
  *sql_ << "UPDATE audit_head SET legacy = 2 WHERE id = 1";
  store_.reset();
  auto reopened = store::Store::Open(url_, 2);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  store_ = *std::move(reopened);
  ids_.push_back("old1");
  EXPECT_THAT(Verify(), IsEmpty());
  EXPECT_EQ(Events("old1")[1].chain_seq, 14);

  *sql_ << "INSERT INTO events (instance_id, seq, at_ms, actor, kind, action, from_state, "
           "to_state, task_id, comment, payload_digest, note) VALUES ('old1', 3, 6, 'li', "
           "'acted', 'approve', 'done', 'done', '', '', '', '')";
  store_.reset();
  reopened = store::Store::Open(url_, 2);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  store_ = *std::move(reopened);
  EXPECT_THAT(Verify(), Finding("instance old1 event 3", "not in the global chain"));
}

// An export whose lines were put in another order (an instance line after
// the events, two events swapped) is still verified, in memory, with the
// same findings as the export as written.
TEST_F(AuditTest, AnExportOutOfOrderIsVerifiedInMemoryAlike) {
  *sql_ << "DELETE FROM events WHERE instance_id = 'inst1' AND seq = 2";
  const auto in_order = Verify();
  ASSERT_FALSE(in_order.empty());
  std::ifstream in(Export());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_GT(lines.size(), 6u);
  std::swap(lines[lines.size() - 1], lines[lines.size() - 3]);  // two events
  std::rotate(lines.begin() + 1, lines.begin() + 2, lines.end());  // an instance last
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  const std::string shuffled = dir_.path() + "/shuffled.jsonl";
  testing::WriteFile(shuffled, text);
  auto report = store::VerifyAuditFile(shuffled, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->streamed);
  EXPECT_THAT(Lines(report->findings), ::testing::UnorderedElementsAreArray(in_order));
  EXPECT_EQ(report->events, static_cast<int64_t>(lines.size()) - 1 - 3);

  // A line that is not JSON is named by its line number.
  testing::WriteFile(shuffled, lines[0] + "\n" + lines[1] + "\n{not json\n");
  report = store::VerifyAuditFile(shuffled, {});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("shuffled.jsonl:3"));
  // A position no int64 holds is refused, not cast (both ways of reading).
  std::string huge;
  for (const std::string& line : lines) {
    if (huge.empty() && line.rfind("{\"event\"", 0) == 0) huge = line;
  }
  const size_t seq = huge.find("\"seq\":");
  ASSERT_NE(seq, std::string::npos);
  huge.replace(seq, 6, "\"seq\":1e300,\"was\":");
  testing::WriteFile(shuffled, lines[0] + "\n" + huge + "\n");
  for (auto read : {store::AuditFileRead::kStreamWhenInOrder, store::AuditFileRead::kInMemory}) {
    report = store::VerifyAuditFile(shuffled, {}, read);
    ASSERT_FALSE(report.ok());
    EXPECT_THAT(std::string(report.status().message()),
                HasSubstr("shuffled.jsonl:2: field 'seq' is missing or not a whole number"));
  }
}

// bpmctl against history a real bpmd wrote: intact, from the store and from
// an export; then the edited database and the edited export are caught.
TEST_F(AuditTest, BpmctlVerifiesWhatBpmdWroteAndCatchesTampering) {
  testing::BpmdProcess bpmd(url_, {"--calendars=" + testing::SourceDir() + "/deploy/calendars"});
  ASSERT_TRUE(bpmd.Start());
  const testing::EnvVars env = {{"BPM_SERVER", bpmd.address()},
                                {"BPM_USER", "zhang"},
                                {"BPM_ROLES", "unit_filer"},
                                {"BPM_ORG", "906017"}};
  std::string started;
  for (const char* subject : {"P10", "P11"}) {
    Result r = RunBpmctl({"start", "target-filing", "--subject", subject, "--json"}, env);
    ASSERT_EQ(r.exit, 0) << Dump(r);
    started = r.out;
  }
  bpmd.Stop();
  // The gRPC peer is recorded with each event bpmd wrote.
  const std::string id = testing::ParseJson<v1::StartInstanceResponse>(started).instance().id();
  const auto events = Events(id);
  ASSERT_FALSE(events.empty());
  EXPECT_THAT(events[0].source, HasSubstr("127.0.0.1"));

  Result r = RunBpmctl({"audit", "verify", "--store", url_}, {});
  EXPECT_EQ(r.exit, 0) << Dump(r);
  EXPECT_THAT(r.out, HasSubstr("audit trail intact"));
  const std::string file = dir_.path() + "/audit.jsonl";
  r = RunBpmctl({"audit", "export", "--store", url_, "--out", file}, {});
  ASSERT_EQ(r.exit, 0) << Dump(r);
  const store::AuditHead head = Head();
  EXPECT_THAT(r.out, HasSubstr(std::to_string(head.seq) + ":" + head.hash));
  r = RunBpmctl({"audit", "verify", "--file", file, "--anchor",
                 std::to_string(head.seq) + ":" + head.hash},
                {});
  EXPECT_EQ(r.exit, 0) << Dump(r);
  // The export streams through scratch files next to it; none is left.
  EXPECT_FALSE(std::filesystem::exists(file + ".part"));
  EXPECT_FALSE(std::filesystem::exists(file + ".lines.part"));
  // A directory that does not exist: the error names the file, nothing is
  // left behind.
  const std::string nowhere = dir_.path() + "/no/such/dir/audit.jsonl";
  r = RunBpmctl({"audit", "export", "--store", url_, "--out", nowhere}, {});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, HasSubstr(nowhere + ".lines.part: cannot write"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/no"));

  *sql_ << "UPDATE events SET actor = 'li' WHERE instance_id = :i AND seq = 1", soci::use(id);
  r = RunBpmctl({"audit", "verify", "--store", url_}, {});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.out, HasSubstr("instance " + id + " event 1: edited"));

  // An export edited by hand: its line for that event changed.
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  std::string content = text.str();
  const size_t at = content.find("\"actor\":\"zhang\"");
  ASSERT_NE(at, std::string::npos);
  content.replace(at, 15, "\"actor\":\"wang\"");
  testing::WriteFile(file, content);
  r = RunBpmctl({"audit", "verify", "--file", file}, {});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.out, HasSubstr("edited"));
  r = RunBpmctl({"audit", "verify", "--file", dir_.path() + "/missing.jsonl"}, {});
  EXPECT_EQ(r.exit, 1) << Dump(r);
  EXPECT_THAT(r.err, HasSubstr("missing.jsonl: cannot open"));
  r = RunBpmctl({"audit", "verify", "--store", url_, "--anchor", "12:zz"}, {});
  EXPECT_EQ(r.exit, 2) << Dump(r);
  EXPECT_THAT(r.err, HasSubstr("--anchor '12:zz'"));
}

}  // namespace
}  // namespace bpm
