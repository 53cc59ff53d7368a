// Writes the protobuf seed corpora of decision_fuzz, api_fuzz, sdk_request_fuzz
// and stage_calls_fuzz (the inputs are documented at the top of each target). The output
// is committed under tests/fuzz/corpus/; rerun after changing an input format:
//   build-dir/bin/fuzz_seed_writer tests/fuzz/corpus
// (the definition_fuzz seeds are plain copies of workflows/*.yaml and
// tests/fixtures/workflows/invalid/*.yaml).
#include <cstdio>
#include <fstream>
#include <string>

#include "bpm/plugin/abi.h"
#include "bpm/plugin/v1/plugin.pb.h"
#include "bpm/v1/agency.pb.h"
#include "bpm/v1/bpm.pb.h"
#include "bpm/v1/org.pb.h"
#include "core/plugin/stage.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace v1 = ::bpm::v1;
namespace pb = ::bpm::plugin::v1;

// The same bytes on every run: map fields (Struct's) in key order, so that
// rerunning the writer changes no seed that its input did not change.
std::string Serialized(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!m.SerializeToCodedStream(&coded)) bpm::fuzz::Die("cannot serialize a " + m.GetTypeName());
  }
  return out;
}

template <typename T>
std::string Bytes(const std::string& json) {
  T m;
  auto s = google::protobuf::util::JsonStringToMessage(json, &m);
  if (!s.ok()) bpm::fuzz::Die(json + ": " + s.ToString());
  return Serialized(m);
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) bpm::fuzz::Die("cannot write " + path);
}

// ---- decision_fuzz: [flags] then [code][chunk: Decision]...
struct Answers {
  std::string bytes;
  explicit Answers(uint8_t flags) { bytes.push_back(static_cast<char>(flags)); }
  Answers& Ok(const std::string& decision_json) { return Raw(0, Bytes<pb::Decision>(decision_json)); }
  Answers& Raw(uint8_t code, const std::string& answer) {
    bytes.push_back(static_cast<char>(code));
    bpm::fuzz::AppendChunk(&bytes, answer);
    return *this;
  }
};

const char* kFillTask =
    R"({"accepted":true,"openTasks":[{"name":"fill","assigneeRole":"unit_filer","assigneeOrg":"906017","actions":["go","push"],"title":"填报"}]})";

void WriteDecisionSeeds(const std::string& dir) {
  Write(dir + "/through", Answers(0).Ok(kFillTask).Ok(R"({"accepted":true,"outcome":"done"})")
                              .Ok(kFillTask).Ok(R"({"accepted":true,"outcome":"done","note":"ok"})")
                              .bytes);
  Write(dir + "/grade_shortcut",
        Answers(2).Ok(kFillTask).Ok(R"({"accepted":true,"outcome":"done"})").bytes);
  Write(dir + "/to_disclosure",
        Answers(1).Ok(kFillTask)
            .Ok(R"({"accepted":true,"outcome":"done","setVariables":{"grade":"良","form":{"amount":3}}})")
            .bytes);
  Write(dir + "/rejected_act",
        Answers(0).Ok(kFillTask)
            .Ok(R"({"accepted":false,"rejections":[{"field":"payload.amount","message":"必填"}]})")
            .Ok(R"({"accepted":true,"keepTask":true,"note":"saved"})")
            .bytes);
  Write(dir + "/everything",
        Answers(0)
            .Ok(R"({"accepted":true,"openTasks":[
                 {"name":"a","assigneeUser":"zhang","actions":["go"],"data":{"k":[1,"x",null,true]}},
                 {"name":"b","assigneeRole":"authority_reviewer","assigneeOrg":"906","actions":["push"],
                  "excludeUsers":["zhang"],"remindBeforeHours":24,"overdueTimer":true,"due":{"days":2}}],
                 "setVariables":{"stage":"one"},
                 "documents":[{"kind":"disclosure","contentType":"application/json","content":"e30="}],
                 "notifications":[{"user":"li","kind":"remind","text":"请审核"},{"role":"unit_filer","org":"906017","kind":"cc","text":"抄送"}]})")
            .Ok(R"({"accepted":true,"keepTask":true,"cancelTasks":["no-such-task"]})")
            .Ok(R"({"accepted":true,"outcome":"again"})")
            .Ok(kFillTask)
            .bytes);
  Write(dir + "/timers",
        Answers(0x50)
            .Ok(R"({"accepted":true,"openTasks":[{"name":"late","assigneeRole":"unit_filer","actions":["go"],
                 "due":{"workingDays":1},"remindBeforeHours":12,"overdueTimer":true}]})")
            .Ok(R"({"accepted":true,"notifications":[{"role":"unit_filer","kind":"overdue","text":"逾期"}]})")
            .Ok(R"({"accepted":true,"outcome":"back"})")
            .Ok(R"({"accepted":true,"openTasks":[{"name":"x","assigneeUser":"wang","actions":["go"],"dueUnixMs":"1767312000000"}]})")
            .bytes);
  Write(dir + "/external",
        Answers(0)
            .Ok(R"({"accepted":true,"externalTasks":[{"topic":"key_evaluation_plan","engagementId":"eng-1","payload":{"a":1},"retries":2}]})")
            .bytes);
  Write(dir + "/outcome_and_tasks",
        Answers(0).Ok(R"({"accepted":true,"outcome":"done","openTasks":[{"name":"n","assigneeUser":"u","actions":["go"]}]})").bytes);
  Write(dir + "/unknown_outcome", Answers(0).Ok(R"({"accepted":true,"outcome":"exploded"})").bytes);
  Write(dir + "/refused_entry",
        Answers(0).Ok(R"({"accepted":false,"rejections":[{"field":"context.org","message":"no"}]})").bytes);
  Write(dir + "/plugin_errors",
        Answers(0).Ok(kFillTask).Raw(15, "boom in act").Raw(14, "bad request").Raw(13, "").bytes);
  Write(dir + "/garbage", Answers(0).Raw(0, std::string("\x0a\xff\xff\xff\x0f\x12", 6)).bytes);
  Write(dir + "/loop", Answers(0).Ok(R"({"accepted":true,"outcome":"again"})")
                          .Ok(R"({"accepted":true,"outcome":"again"})")
                          .Ok(R"({"accepted":true,"outcome":"back"})")
                          .Ok(R"({"accepted":true,"outcome":"done"})")
                          .Ok(kFillTask)
                          .bytes);
}

// ---- api_fuzz: [method][identity][chunk: request]...
enum Method {
  kValidate = 0, kDeploy = 1, kGetDef = 2, kListDefs = 3,
  kStart = 4, kCancel = 5, kWithdraw = 6, kComment = 7, kUrge = 8, kCc = 9, kGetInstance = 10,
  kListInstances = 11, kHistory = 12, kListDocuments = 13, kGetDocument = 14,
  kInbox = 15, kAct = 16, kClaim = 17, kUnclaim = 18, kTransfer = 19, kDelegate = 20,
  kResolveDelegation = 21, kSetProxy = 22, kListProxies = 23, kRemoveProxy = 24,
  kNotifications = 25,
  kCampaignStart = 26, kCampaignGet = 27, kCampaignList = 28, kCampaignUrge = 29,
  kCampaignExtend = 30,
  kPutRegion = 31, kListRegions = 32, kPutOrg = 33, kGetOrg = 34, kListOrgs = 35,
  kOrgHistory = 36, kPutUser = 37, kGrantRole = 38, kRevokeRole = 39, kListGrants = 40,
  kImport = 41, kResolveContext = 42,
  kRegisterAgency = 43, kGetAgency = 44, kListAgencies = 45, kEngage = 46, kGetEngagement = 47,
  kListEngagements = 48, kFetchAndLock = 49, kExtendLock = 50, kComplete = 51,
  kReportFailure = 52, kListIncidents = 53, kResolveIncident = 54, kListOutbox = 55,
  kReplayOutbox = 56,
};
enum Who { kZhang, kLi, kWang, kZhao, kChen, kLiDept, kWangSection, kQian, kZhaoPerf, kAgency,
           kAdmin, kNobody };

struct Calls {
  std::string bytes;
  template <typename T>
  Calls& Call(Method m, Who who, const std::string& json) {
    bytes.push_back(static_cast<char>(m));
    bytes.push_back(static_cast<char>(who));
    bpm::fuzz::AppendChunk(&bytes, Bytes<T>(json));
    return *this;
  }
  Calls& As(Method m, const std::string& identity, const std::string& request) {
    bytes.push_back(static_cast<char>(m));
    bytes.push_back(static_cast<char>(0x80));
    bpm::fuzz::AppendChunk(&bytes, identity);
    bpm::fuzz::AppendChunk(&bytes, request);
    return *this;
  }
};

void WriteApiSeeds(const std::string& dir, const std::string& source) {
  std::string target_json = bpm::fuzz::ReadFileOrDie(source + "/examples/target.json");
  std::string filing = bpm::fuzz::ReadFileOrDie(source + "/workflows/target-filing.yaml");
  google::protobuf::util::JsonPrintOptions compact;

  v1::ValidateDefinitionRequest validate;
  validate.set_yaml(filing);
  validate.set_source_name("target-filing.yaml");
  Write(dir + "/definitions",
        Calls{}.As(kValidate, "admin", Serialized(validate))
            .Call<v1::DeployDefinitionRequest>(kDeploy, kAdmin, R"({"yaml":"key: tiny\ninitial: a\nstates:\n  a:\n    stage: final_review\n    on: { approved: z, returned: a, rejected: z }\n  z: { final: true }\n","sourceName":"tiny.yaml"})")
            .Call<v1::GetDefinitionRequest>(kGetDef, kZhang, R"({"key":"tiny"})")
            .Call<v1::ListDefinitionsRequest>(kListDefs, kZhang, R"({})")
            .Call<v1::StartInstanceRequest>(kStart, kZhang, R"({"definitionKey":"tiny","subjectRef":"S","org":"906017"})")
            .Call<v1::InboxRequest>(kInbox, kWang, R"({})")
            .Call<v1::ActRequest>(kAct, kWang, R"({"taskId":"@t","action":"approve","payload":{"grade":"优"}})")
            .bytes);
  Write(dir + "/filing_chain",
        Calls{}.Call<v1::ActRequest>(kAct, kZhang, R"({"taskId":"@t1","action":"submit","payload":)" + target_json + "}")
            .Call<v1::InboxRequest>(kInbox, kLi, R"({"view":"pending"})")
            .Call<v1::ActRequest>(kAct, kLi, R"({"taskId":"@t","action":"return","comment":"满意度指标口径不清"})")
            .Call<v1::ActRequest>(kAct, kLi, R"({"taskId":"@t","action":"approve","comment":"同意","view":"INSTANCE_VIEW_BASIC"})")
            .Call<v1::InstanceOperationRequest>(kWithdraw, kLi, R"({"instanceId":"@i1","view":"INSTANCE_VIEW_BASIC"})")
            .Call<v1::GetInstanceRequest>(kGetInstance, kZhang, R"({"id":"@i1","view":"INSTANCE_VIEW_BASIC"})")
            .Call<v1::GetHistoryRequest>(kHistory, kZhang, R"({"instanceId":"@i1"})")
            .bytes);
  Write(dir + "/county_chain",
        Calls{}.Call<v1::ActRequest>(kAct, kZhang, R"({"taskId":"@t","action":"submit","payload":)" + target_json + "}")
            .Call<v1::InboxRequest>(kInbox, kChen, R"({})")
            .Call<v1::ActRequest>(kAct, kChen, R"({"taskId":"@t","action":"approve"})")
            .Call<v1::ActRequest>(kAct, kLiDept, R"({"taskId":"@t","action":"add_signer","payload":{"user":"zhou","position":"before"}})")
            .Call<v1::ActRequest>(kAct, kLiDept, R"({"taskId":"@t","action":"return","payload":{"to":"initiator"},"comment":"成本指标缺失"})")
            .bytes);
  Write(dir + "/task_operations",
        Calls{}.Call<v1::TaskOperationRequest>(kClaim, kZhang, R"({"taskId":"@t"})")
            .Call<v1::TaskOperationRequest>(kUnclaim, kZhang, R"({"taskId":"@t"})")
            .Call<v1::TaskOperationRequest>(kTransfer, kZhang, R"({"taskId":"@t","targetUser":"liu","comment":"转办"})")
            .Call<v1::TaskOperationRequest>(kDelegate, kZhang, R"({"taskId":"@t","targetUser":"liu"})")
            .Call<v1::TaskOperationRequest>(kResolveDelegation, kZhang, R"({"taskId":"@t"})")
            .Call<v1::SetProxyRequest>(kSetProxy, kLi, R"({"proxyUser":"sun","fromUnixMs":"1772323200000","toUnixMs":"1772928000000"})")
            .Call<v1::ListProxiesRequest>(kListProxies, kLi, R"({})")
            .Call<v1::RemoveProxyRequest>(kRemoveProxy, kLi, R"({"id":"@p"})")
            .Call<v1::ListNotificationsRequest>(kNotifications, kZhang, R"({"pageSize":5})")
            .bytes);
  Write(dir + "/instance_operations",
        Calls{}.Call<v1::InstanceOperationRequest>(kComment, kZhang, R"({"instanceId":"@i","comment":"补充材料"})")
            .Call<v1::InstanceOperationRequest>(kUrge, kZhang, R"({"instanceId":"@i","comment":"请尽快"})")
            .Call<v1::InstanceOperationRequest>(kCc, kZhang, R"({"instanceId":"@i","users":["li","wang"]})")
            .Call<v1::InstanceOperationRequest>(kCancel, kZhang, R"({"instanceId":"@i","comment":"撤销","expectedVersion":"1"})")
            .Call<v1::GetInstanceRequest>(kGetInstance, kZhang, R"({"id":"@i"})")
            .Call<v1::ListInstancesRequest>(kListInstances, kZhang, R"({"status":"running","pageSize":2})")
            .Call<v1::ListDocumentsRequest>(kListDocuments, kZhang, R"({"instanceId":"@i"})")
            .Call<v1::GetDocumentRequest>(kGetDocument, kZhang, R"({"id":"@d"})")
            .bytes);
  Write(dir + "/campaign",
        Calls{}.Call<v1::StartCampaignRequest>(kCampaignStart, kQian, R"({"title":"2027年项目绩效目标填报","definitionKey":"project-target-county","targets":[{"org":"906017"},{"org":"907002","subjectRef":"P-2"}],"deadlineUnixMs":"1798646400000"})")
            .Call<v1::GetCampaignRequest>(kCampaignGet, kQian, R"({"id":"@c"})")
            .Call<v1::ListCampaignsRequest>(kCampaignList, kQian, R"({})")
            .Call<v1::CampaignOperationRequest>(kCampaignUrge, kQian, R"({"id":"@c","comment":"催办"})")
            .Call<v1::CampaignOperationRequest>(kCampaignExtend, kQian, R"({"id":"@c","deadlineUnixMs":"1799000000000"})")
            .bytes);
  Write(dir + "/org_model",
        Calls{}.Call<v1::GetOrgRequest>(kGetOrg, kAdmin, R"({"code":"906017"})")
            .Call<v1::ListOrgsRequest>(kListOrgs, kAdmin, R"({})")
            .Call<v1::ResolveContextRequest>(kResolveContext, kAdmin, R"({"orgCode":"906017"})")
            .Call<v1::OrgHistoryRequest>(kOrgHistory, kAdmin, R"({"code":"906"})")
            .Call<v1::ListRegionsRequest>(kListRegions, kAdmin, R"({})")
            .Call<v1::ListGrantsRequest>(kListGrants, kAdmin, R"({})")
            .Call<v1::ImportOrgsRequest>(kImport, kAdmin, R"({"text":"code,name,kind,parent\n999001,新单位,unit,906\n","format":"csv","dryRun":true})")
            .bytes);
  Write(dir + "/agency",
        Calls{}.Call<v1::RegisterAgencyRequest>(kRegisterAgency, kQian, R"({"agency":{"id":"ag-huaxin","name":"华信会计师事务所","creditCode":"913607005812345678","type":"accounting","noMajorViolations3y":true}})")
            .Call<v1::EngageRequest>(kEngage, kQian, R"({"engagement":{"agencyId":"ag-huaxin","purpose":"key_evaluation","mode":"independent","commissionerOrg":"czj","subjectRef":"P-2026-01","subjectOrg":"906017","contractAmount":180000,"startDate":"2026-03-01","endDate":"2026-06-30","teamLead":"刘敏","sheet":{"indicators":[{"code":"A","level1":"决策","name":"a","weight":20},{"code":"B","level1":"过程","name":"b","weight":20},{"code":"C","level1":"产出","name":"c","weight":30},{"code":"D","level1":"效益","name":"d","weight":30}]}}})")
            .Call<v1::StartInstanceRequest>(kStart, kQian, R"({"definitionKey":"key-evaluation","subjectRef":"P-2026-01","org":"906017","variables":{"engagement_id":"@e"}})")
            .Call<v1::FetchAndLockRequest>(kFetchAndLock, kAgency, R"({"topics":["key_evaluation_plan","key_evaluation_draft","key_evaluation_final"],"maxTasks":2,"lockDurationMs":"3600000"})")
            .Call<v1::ExtendLockRequest>(kExtendLock, kAgency, R"({"taskId":"@x","lockToken":"@k","lockDurationMs":"3600000"})")
            .Call<v1::CompleteExternalTaskRequest>(kComplete, kAgency, R"({"taskId":"@x","lockToken":"@k","deliverable":{"summary":"工作方案","files":[{"name":"plan.pdf","sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]}})")
            .Call<v1::ReportFailureRequest>(kReportFailure, kAgency, R"({"taskId":"@x","lockToken":"@k","errorMessage":"down","retryBackoffMs":"1"})")
            .Call<v1::ListIncidentsRequest>(kListIncidents, kQian, R"({"includeResolved":true})")
            .Call<v1::ResolveIncidentRequest>(kResolveIncident, kQian, R"({"id":"@n","action":"retry"})")
            .Call<v1::ListOutboxRequest>(kListOutbox, kQian, R"({})")
            .Call<v1::ReplayOutboxRequest>(kReplayOutbox, kQian, R"({"id":"@o"})")
            .Call<v1::ListEngagementsRequest>(kListEngagements, kQian, R"({})")
            .Call<v1::GetAgencyRequest>(kGetAgency, kQian, R"({"id":"@a"})")
            .Call<v1::ListAgenciesRequest>(kListAgencies, kQian, R"({})")
            .Call<v1::GetEngagementRequest>(kGetEngagement, kAgency, R"({"id":"@e"})")
            .bytes);
  Write(dir + "/identities",
        Calls{}.As(kInbox, "zhang\nunit_filer,authority_reviewer,,x\n906017", "")
            .As(kInbox, "\n\n", "")
            .Call<v1::InboxRequest>(kInbox, kNobody, R"({"view":"done"})")
            .Call<v1::InboxRequest>(kInbox, kZhang, R"({"view":"overdue","definitionKey":"target-filing","year":2026})")
            .bytes);
}

}  // namespace

// ---- sdk_request_fuzz: an ActRequest as the engine sends it.
void WriteSdkSeeds(const std::string& dir) {
  const std::string request = R"({"context": {
      "instanceId": "i-1", "definitionKey": "target-filing", "state": "finance_review",
      "variables": {"form": {"project_name": "基准测试项目", "amount": 500000,
                             "indicators": [{"name": "完成数", "weight": 20, "target": "10"}]},
                    "submitted_by": "filer1", "grade": "优", "published": true,
                    "nothing": null, "list": [1, "two", [3], {}]},
      "config": {"title": "终审", "assignee": {"role": "finance_reviewer"}},
      "actor": {"user": "finance1", "roles": ["finance_reviewer"], "org": "fin"},
      "nowUnixMs": "1796591070413",
      "openTasks": [{"id": "t-1", "name": "review", "actions": ["approve", "return"]}]},
    "task": {"id": "t-1", "name": "review", "data": {"step": 1}},
    "action": "approve", "payload": {"grade": "良"}, "comment": "同意"})";
  Write(dir + "/whole", Bytes<pb::ActRequest>(request));
  // The two-part form InProcessStage sends: the config first, then the rest.
  pb::ActRequest two_part;
  if (!google::protobuf::util::JsonStringToMessage(request, &two_part).ok()) {
    bpm::fuzz::Die("sdk seed");
  }
  const std::string prefix = bpm::plugin::ConfigWire(two_part.context().config());
  two_part.mutable_context()->clear_config();
  Write(dir + "/two_part", prefix + Serialized(two_part));
  // Variables in two chunks, the second replacing a key of the first.
  Write(dir + "/chunks",
        Bytes<pb::ActRequest>(R"({"context": {"variables": {"a": "1", "b": {"x": 1}}}})") +
            Bytes<pb::ActRequest>(R"({"context": {"variables": {"b": "2"}}, "action": "submit"})"));
  Write(dir + "/empty", "");
  // To a stage that declared what it reads: two of the variables, and the
  // selection marked (one name the instance does not have).
  Write(dir + "/selected",
        Bytes<pb::ActRequest>(R"({"context": {
            "variables": {"submitted_by": "filer1", "grade": "优"},
            "variablesSelected": {"names": ["grade", "missing", "submitted_by"]},
            "config": {"title": "终审"}}, "action": "approve"})"));
}

// ---- stage_calls_fuzz: a stage (by index among the bundled plugins, sorted),
// a hook (bit 2: the config apart), a request.
void WriteStageCallSeeds(const std::string& dir) {
  enum Stage : char { kDepartmentSubmit = 1, kDisclosure = 2, kFinalReview = 5, kMonitoring = 6,
                      kRectification = 7, kReview = 9 };
  enum Hook : char { kEnter = 0, kAct = 1, kTimer = 2, kApart = 4 };
  auto seed = [&](const std::string& name, char stage, char hook, const std::string& bytes) {
    Write(dir + "/" + name, std::string{stage, hook} + bytes);
  };
  const std::string context = R"("instanceId": "i-1", "definitionKey": "target-filing",
      "variables": {"form": {"project_name": "基准测试项目", "amount": 500000},
                    "submitted_by": "filer1", "grade": "优",
                    "final_review": {"grade": "优", "by": "finance1"}},
      "actor": {"user": "finance1", "roles": ["finance_reviewer"], "org": "fin"},
      "nowUnixMs": "1796591070413")";
  seed("review_enter", kReview, kEnter | kApart,
       Bytes<pb::EnterRequest>(R"({"context": {"state": "authority_review", )" + context +
                               R"(, "config": {"title": "审核",
                               "assignee": {"role": "reviewer"}}}})"));
  seed("final_review_act", kFinalReview, kAct | kApart,
       Bytes<pb::ActRequest>(R"({"context": {"state": "finance_review", )" + context +
                             R"(, "config": {"title": "终审"}}, "task": {"id": "t-1",
                             "name": "final_review"}, "action": "approve",
                             "payload": {"grade": "良"}, "comment": "同意"})"));
  seed("disclosure_act", kDisclosure, kAct | kApart,
       Bytes<pb::ActRequest>(R"({"context": {"state": "disclose", )" + context +
                             R"(, "config": {"publish": ["form", "grade"]},
                             "variablesSelected": {"names": ["disclosure", "form", "grade"]}},
                             "task": {"id": "t-2", "name": "publish"}, "action": "publish"})"));
  seed("rectification_enter", kRectification, kEnter,
       Bytes<pb::EnterRequest>(R"({"context": {"state": "rectify", )" + context +
                               R"(, "config": {"due_days": 10}}})"));
  seed("department_submit_act", kDepartmentSubmit, kAct | kApart,
       Bytes<pb::ActRequest>(R"({"context": {"state": "fill", )" + context +
                             R"(, "config": {"form": {"fields": [{"name": "project_name",
                             "type": "string", "required": true}]}}}, "action": "submit",
                             "payload": {"project_name": "项目"}})"));
  seed("monitoring_timer", kMonitoring, kTimer,
       Bytes<pb::TimerRequest>(R"({"context": {"state": "monitor", )" + context + R"(}})"));
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_writer CORPUS_DIR (tests/fuzz/corpus)\n");
    return 2;
  }
  std::string out = argv[1];
  WriteDecisionSeeds(out + "/decision_fuzz");
  WriteStageCallSeeds(out + "/stage_calls_fuzz");
  WriteApiSeeds(out + "/api_fuzz", bpm::fuzz::SourceDir());
  WriteSdkSeeds(out + "/sdk_request_fuzz");
  return 0;
}
