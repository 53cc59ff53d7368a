// Third-party agencies in process: the 财预〔2021〕6号 rules, and the pull
// protocol against the real engine, the real agency_work plugin, SQLite and
// a fake clock — lock expiry and re-delivery, late and duplicate completion,
// retries running out into an incident, and each way of resolving it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/agency/rules.h"
#include "core/common/clock.h"
#include "core/engine/engine.h"
#include "tests/support/test_env.h"

namespace bpm::engine {
namespace {

using ::testing::HasSubstr;

const char* kWorkflow = R"(
key: eval
initial: report
states:
  report:
    stage: agency_work
    config: { topic: report, scored: true, retries: 2 }
    on: { completed: review }
  review:
    stage: review
    config: { assignee: { role: perf_reviewer } }
    on: { approved: done, returned: report }
  done: { final: true }
)";

v1::Agency MakeAgency(const std::string& id) {
  v1::Agency a;
  a.set_id(id);
  a.set_name("华信咨询 " + id);
  a.set_credit_code("91360700MA35XXXX1A");
  a.set_type("consulting");
  a.set_status("active");
  a.set_no_major_violations_3y(true);
  return a;
}

v1::IndicatorSheet Sheet() {
  v1::IndicatorSheet s;
  auto add = [&](const char* code, const char* l1, double w) {
    v1::Indicator* i = s.add_indicators();
    i->set_code(code);
    i->set_level1(l1);
    i->set_level2("x");
    i->set_name(code);
    i->set_weight(w);
  };
  add("D1", "决策", 15);
  add("P1", "过程", 20);
  add("O1", "产出", 35);
  add("E1", "效益", 30);
  return s;
}

v1::Engagement MakeEngagement(const std::string& agency, const std::string& purpose) {
  v1::Engagement e;
  e.set_agency_id(agency);
  e.set_purpose(purpose);
  e.set_mode("independent");
  e.set_commissioner_org("czj");
  e.set_subject_ref("P-1");
  e.set_subject_org("906017");
  *e.mutable_sheet() = Sheet();
  return e;
}

v1::Deliverable Report(double ratio) {
  v1::Deliverable d;
  double total = 0;
  const v1::IndicatorSheet sheet = Sheet();
  for (const auto& i : sheet.indicators()) {
    v1::IndicatorScore* s = d.add_scores();
    s->set_code(i.code());
    s->set_score(i.weight() * ratio);
    total += i.weight() * ratio;
  }
  d.set_total(total);
  d.set_grade(agency::GradeOf(total));
  d.add_findings("预算执行率偏低");
  d.add_recommendations("加快资金拨付");
  return d;
}

TEST(AgencyRulesTest, EveryRefusal) {
  v1::Agency a = MakeAgency("ag1");
  auto refused = [&](v1::Engagement e, const std::vector<v1::Engagement>& prior = {}) {
    return std::string(agency::CheckEngagement(e, a, prior).message());
  };
  EXPECT_TRUE(agency::CheckEngagement(MakeEngagement("ag1", "key_evaluation"), a, {}).ok());
  v1::Engagement own = MakeEngagement("ag1", "key_evaluation");
  own.set_commissioner_org("906017");
  EXPECT_EQ(refused(own),
            "财预〔2021〕6号: 906017 may not commission an evaluation of its own performance management");
  for (const char* p : {"target_setting", "monitoring", "self_evaluation"}) {
    EXPECT_THAT(refused(MakeEngagement("ag1", p)),
                HasSubstr("stays with the budget unit; an agency may only assist"));
    v1::Engagement assist = MakeEngagement("ag1", p);
    assist.set_mode("assist");
    EXPECT_TRUE(agency::CheckEngagement(assist, a, {}).ok()) << p;
  }
  v1::Engagement ex_ante = MakeEngagement("ag1", "ex_ante");
  ex_ante.set_id("e0");
  ex_ante.set_status("active");
  EXPECT_EQ(refused(MakeEngagement("ag1", "key_evaluation"), {ex_ante}),
            "conflict of interest: agency ag1 did the ex_ante work for P-1 (engagement e0) and "
            "cannot evaluate it");
  a.add_related_parties("906017");
  EXPECT_EQ(refused(MakeEngagement("ag1", "key_evaluation")),
            "conflict of interest: agency ag1 declared 906017 a related party");
  a.clear_related_parties();
  a.set_no_major_violations_3y(false);
  EXPECT_THAT(refused(MakeEngagement("ag1", "key_evaluation")), HasSubstr("it is not eligible"));
  a.set_no_major_violations_3y(true);
  a.set_status("suspended");
  EXPECT_EQ(refused(MakeEngagement("ag1", "key_evaluation")),
            "agency ag1 is suspended: it cannot be engaged");
  a.set_status("active");
  v1::Engagement bad = MakeEngagement("ag1", "key_evaluation");
  bad.mutable_sheet()->mutable_indicators(2)->set_weight(10);  // 产出 10 + 效益 30, total 75
  EXPECT_EQ(refused(bad), "engagement.sheet: weights add up to 75, not 100");
  bad.mutable_sheet()->mutable_indicators(0)->set_weight(40);
  EXPECT_EQ(refused(bad), "engagement.sheet: 产出 + 效益 weigh 40; they must be at least 60 (财预〔2020〕10号)");
}

TEST(AgencyRulesTest, Deliverables) {
  v1::Engagement e = MakeEngagement("ag1", "key_evaluation");
  e.set_id("e1");
  EXPECT_TRUE(agency::ValidateDeliverable(Report(0.9), e, true).ok());
  v1::Deliverable d = Report(0.9);
  d.set_grade("良");
  EXPECT_EQ(agency::ValidateDeliverable(d, e, true).message(),
            "deliverable.grade: a total of 90 is graded 优, not '良' (bands 90/80/60)");
  d = Report(0.9);
  d.mutable_scores()->RemoveLast();
  EXPECT_EQ(agency::ValidateDeliverable(d, e, true).message(),
            "deliverable.scores: indicator 'E1' is not scored");
  d = Report(0.9);
  d.set_total(91);
  EXPECT_THAT(std::string(agency::ValidateDeliverable(d, e, true).message()),
              HasSubstr("deliverable.total: 91 is not the sum of the scores (90)"));
  EXPECT_TRUE(agency::ValidateDeliverable(v1::Deliverable(), e, false).ok());  // a plan
  e.set_mode("assist");
  EXPECT_THAT(std::string(agency::ValidateDeliverable(Report(0.9), e, true).message()),
              HasSubstr("assist mode: the agency may not author the conclusion"));
  EXPECT_EQ(agency::GradeOf(89.99), "良");
  EXPECT_EQ(agency::GradeOf(60), "中");
  EXPECT_EQ(agency::GradeOf(59.9), "差");
}

class AgencyEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.LoadDirectory(testing::PluginDir()).ok());
    auto store = store::Store::Open("sqlite:" + dir_.path() + "/agency.db", 4);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    engine_ = std::make_unique<Engine>(*store_, registry_, clock_);
    ASSERT_TRUE(engine_->Deploy(kWorkflow, "eval.yaml").ok());
    for (const char* id : {"ag1", "ag2"}) ASSERT_TRUE(engine_->RegisterAgency(finance_, MakeAgency(id)).ok());
    auto e1 = engine_->Engage(finance_, MakeEngagement("ag1", "key_evaluation"));
    ASSERT_TRUE(e1.ok()) << e1.status();
    engagement_ = e1->id();
    v1::StartInstanceRequest req;
    req.set_definition_key("eval");
    req.set_subject_ref("P-1");
    req.set_org("906017");
    (*req.mutable_variables()->mutable_fields())["engagement_id"].set_string_value(engagement_);
    auto inst = engine_->Start(finance_, req);
    ASSERT_TRUE(inst.ok()) << inst.status();
    instance_ = inst->id();
  }

  StatusOr<v1::FetchAndLockResponse> Fetch(const Caller& who, int64_t lock_ms = 60'000) {
    v1::FetchAndLockRequest req;
    req.add_topics("report");
    req.set_lock_duration_ms(lock_ms);
    return engine_->FetchAndLock(who, req);
  }

  StatusOr<v1::CompleteExternalTaskResponse> Complete(const Caller& who, const v1::ExternalTask& t,
                                                      const v1::Deliverable& d) {
    v1::CompleteExternalTaskRequest req;
    req.set_task_id(t.id());
    req.set_lock_token(t.lock_token());
    *req.mutable_deliverable() = d;
    return engine_->CompleteExternalTask(who, req);
  }

  testing::TempDir dir_;
  plugin::Registry registry_;
  std::unique_ptr<store::Store> store_;
  FakeClock clock_{1'790'000'000'000};
  std::unique_ptr<Engine> engine_;
  const Caller finance_{"zhou", {"perf_head"}, "czj-jx"};
  const Caller ag1_{"worker1", {"agency"}, "ag1"};
  const Caller ag2_{"worker2", {"agency"}, "ag2"};
  std::string engagement_;
  std::string instance_;
};

TEST_F(AgencyEngineTest, LockExpiryRedeliveryLateAndDuplicateCompletion) {
  auto first = Fetch(ag1_, 1000);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->tasks_size(), 1);
  const v1::ExternalTask held = first->tasks(0);
  EXPECT_EQ(held.subject_ref(), "P-1");
  EXPECT_EQ(held.engagement_id(), engagement_);
  EXPECT_EQ(Fetch(ag1_)->tasks_size(), 0);            // locked
  EXPECT_EQ(Fetch(ag2_)->tasks_size(), 0);            // not ag2's
  clock_.Advance(1500);                                // the lock expires
  auto again = Fetch(ag1_);
  ASSERT_EQ(again->tasks_size(), 1);
  const v1::ExternalTask redelivered = again->tasks(0);
  EXPECT_EQ(redelivered.id(), held.id());
  EXPECT_NE(redelivered.lock_token(), held.lock_token());
  auto late = Complete(ag1_, held, Report(0.9));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(late.status().message()),
              HasSubstr("it was re-delivered to another fetch); a late completion is refused"));
  auto other = Complete(ag2_, redelivered, Report(0.9));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  v1::Deliverable wrong = Report(0.9);
  wrong.set_grade("差");
  EXPECT_EQ(Complete(ag1_, redelivered, wrong).status().code(), absl::StatusCode::kInvalidArgument);
  auto done = Complete(ag1_, redelivered, Report(0.9));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), "review");
  EXPECT_FALSE(done->replayed());
  auto replay = Complete(ag1_, redelivered, Report(0.9));
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed());
  EXPECT_EQ(replay->deliverable_sha256(), done->deliverable_sha256());
  EXPECT_EQ(Complete(ag1_, redelivered, Report(0.8)).status().code(), absl::StatusCode::kAlreadyExists);
  auto inst = engine_->GetInstance(instance_);
  EXPECT_EQ(inst->variables().fields().at("evaluation_grade").string_value(), "优");
  auto docs = engine_->Documents(instance_);
  ASSERT_EQ(docs->documents_size(), 1);
  EXPECT_EQ(docs->documents(0).sha256(), done->deliverable_sha256());
  EXPECT_EQ(docs->documents(0).kind(), "deliverable:report");
}

TEST_F(AgencyEngineTest, RetriesRunOutIntoAnIncidentResolvedByRetry) {
  for (int i = 0; i < 2; ++i) {
    auto f = Fetch(ag1_);
    ASSERT_EQ(f->tasks_size(), 1) << i;
    v1::ReportFailureRequest fail;
    fail.set_task_id(f->tasks(0).id());
    fail.set_lock_token(f->tasks(0).lock_token());
    fail.set_error_message("现场数据未到位");
    fail.set_retry_backoff_ms(10'000);
    auto r = engine_->ReportFailure(ag1_, fail);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->retries_left(), 1 - i);
    if (i == 0) {
      EXPECT_EQ(Fetch(ag1_)->tasks_size(), 0);  // backing off
      clock_.Advance(10'001);
    } else {
      EXPECT_FALSE(r->incident_id().empty());
    }
  }
  EXPECT_EQ(engine_->GetInstance(instance_)->status(), "incident");
  auto incidents = engine_->ListIncidents(v1::ListIncidentsRequest());
  ASSERT_EQ(incidents->incidents_size(), 1);
  EXPECT_EQ(incidents->incidents(0).kind(), "retries_exhausted");
  EXPECT_EQ(Fetch(ag1_)->tasks_size(), 0);
  v1::ResolveIncidentRequest resolve;
  resolve.set_id(incidents->incidents(0).id());
  resolve.set_action("retry");
  EXPECT_EQ(engine_->ResolveIncident(ag1_, resolve).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto resolved = engine_->ResolveIncident(finance_, resolve);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->resolution(), "retry");
  EXPECT_EQ(engine_->GetInstance(instance_)->status(), "running");
  auto f = Fetch(ag1_);
  ASSERT_EQ(f->tasks_size(), 1);
  EXPECT_TRUE(Complete(ag1_, f->tasks(0), Report(0.85)).ok());
  EXPECT_EQ(engine_->ResolveIncident(finance_, resolve).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(AgencyEngineTest, IncidentReassignedToAnotherAgencyOrCancelled) {
  for (int i = 0; i < 2; ++i) {
    auto f = Fetch(ag1_);
    ASSERT_EQ(f->tasks_size(), 1);
    v1::ReportFailureRequest fail;
    fail.set_task_id(f->tasks(0).id());
    fail.set_lock_token(f->tasks(0).lock_token());
    fail.set_error_message("机构无法完成");
    ASSERT_TRUE(engine_->ReportFailure(ag1_, fail).ok());
  }
  auto e2 = engine_->Engage(finance_, MakeEngagement("ag2", "key_evaluation"));
  ASSERT_TRUE(e2.ok()) << e2.status();
  auto incident = engine_->ListIncidents(v1::ListIncidentsRequest())->incidents(0);
  v1::ResolveIncidentRequest resolve;
  resolve.set_id(incident.id());
  resolve.set_action("reassign");
  resolve.set_engagement_id(e2->id());
  ASSERT_TRUE(engine_->ResolveIncident(finance_, resolve).ok());
  EXPECT_EQ(Fetch(ag1_)->tasks_size(), 0);
  auto f = Fetch(ag2_);
  ASSERT_EQ(f->tasks_size(), 1);
  EXPECT_EQ(f->tasks(0).engagement_id(), e2->id());
  // ag2 reads its own engagement, not ag1's.
  EXPECT_TRUE(engine_->GetEngagement(ag2_, e2->id()).ok());
  EXPECT_EQ(engine_->GetEngagement(ag2_, engagement_).status().code(),
            absl::StatusCode::kPermissionDenied);
  v1::ListEngagementsRequest mine;
  EXPECT_EQ(engine_->ListEngagements(ag2_, mine)->engagements_size(), 1);
  // Cancel: fail ag2's task out too (a resolved task gets 3 retries), then
  // cancel the instance.
  for (int i = 0; i < 3; ++i) {
    if (i > 0) f = Fetch(ag2_);
    v1::ReportFailureRequest fail;
    fail.set_task_id(f->tasks(0).id());
    fail.set_lock_token(f->tasks(0).lock_token());
    fail.set_error_message("仍无法完成");
    ASSERT_TRUE(engine_->ReportFailure(ag2_, fail).ok());
  }
  v1::ListIncidentsRequest open;
  auto second = engine_->ListIncidents(open);
  ASSERT_EQ(second->incidents_size(), 1);
  resolve.set_id(second->incidents(0).id());
  resolve.set_action("cancel");
  ASSERT_TRUE(engine_->ResolveIncident(finance_, resolve).ok());
  EXPECT_EQ(engine_->GetInstance(instance_)->status(), "terminated");
}

TEST_F(AgencyEngineTest, ExtendLockKeepsTheTask) {
  auto f = Fetch(ag1_, 2000);
  ASSERT_EQ(f->tasks_size(), 1);
  v1::ExtendLockRequest ext;
  ext.set_task_id(f->tasks(0).id());
  ext.set_lock_token(f->tasks(0).lock_token());
  ext.set_lock_duration_ms(60'000);
  clock_.Advance(1500);
  ASSERT_TRUE(engine_->ExtendLock(ag1_, ext).ok());
  clock_.Advance(1500);  // past the original lock: still held
  EXPECT_EQ(Fetch(ag1_)->tasks_size(), 0);
  EXPECT_TRUE(Complete(ag1_, f->tasks(0), Report(0.7)).ok());
  ext.set_lock_token("bogus");
  EXPECT_EQ(engine_->ExtendLock(ag1_, ext).status().code(), absl::StatusCode::kFailedPrecondition);
}

// Regression: a long poll used to run to its deadline after its caller left
// (and held up bpmd's shutdown for as long).
TEST_F(AgencyEngineTest, LongPollStopsWhenTheCallerIsGone) {
  ASSERT_EQ(Fetch(ag1_)->tasks_size(), 1);  // the only task is now locked
  v1::FetchAndLockRequest req;
  req.add_topics("report");
  req.set_long_poll_timeout_ms(30'000);
  int checks = 0;
  auto r = engine_->FetchAndLock(ag1_, req, [&]() { return ++checks >= 2; });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tasks_size(), 0);
  EXPECT_EQ(checks, 2);  // asked twice, then returned: it did not poll on to the deadline
}

}  // namespace
}  // namespace bpm::engine
