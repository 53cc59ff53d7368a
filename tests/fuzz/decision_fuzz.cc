// libFuzzer target: the engine's decoding and handling of what a stage plugin
// answers. The fuzzer's bytes become the answers (return code + response
// bytes) of the fixture plugin fuzz_stage (fuzz_stage.cc), a real dlopen
// plugin, so every answer goes through the production path: the loader's
// return-code handling and Decision parsing (core/plugin/loader.cc), then the
// engine's checks and application of the decision (Engine::EnterState,
// ApplyDecision, OpenTask, OpenExternalTask, FollowOutcome; core/engine) and
// the one-transaction commit into a real SQLite store. Each input starts one
// instance (Enter), then acts on its open tasks (Act) and fires due timers
// (OnTimer) while answers are left.
//
// Input: byte 0 picks the workflow and start variables; then repeated
// [return-code byte][16-bit LE length][Decision bytes] (fuzz_support.h Chunk).
// Seeds: corpus/decision_fuzz (written by seed_writer.cc). BPM_FUZZ_VERBOSE=1
// prints each command's status (handy when replaying one input).
#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "bpm/plugin/abi.h"
#include "core/common/clock.h"
#include "core/engine/engine.h"
#include "core/org/context.h"
#include "core/store/store.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace v1 = ::bpm::v1;

// Two workflows over fuzz_stage: outcomes with conditions, a loop back, and a
// real plugin (disclosure, auto) after it.
const char* kWorkflows[] = {R"(
key: fuzz-one
initial: work
variables: { grade: string }
states:
  work:
    stage: fuzz_stage
    config: { anything: [1, two] }
    on:
      done:
        - { to: end, when: { var: grade, in: [优, 良] } }
        - { to: second }
      again: work
      back: work
  second:
    stage: fuzz_stage
    on: { done: end, again: second, back: work }
  end: { final: true }
)",
                            R"(
key: fuzz-two
initial: work
variables: { form: object }
states:
  work:
    stage: fuzz_stage
    on:
      done: publish
      again: { to: work, when: { not: { var: form.amount, gt: 100 } } }
      back: rejected
  publish:
    stage: disclosure
    config: { mode: auto }
    on: { published: end }
  end: { final: true }
  rejected: { final: true }
)"};

constexpr int kExecsPerStore = 2000;  // then start over with an empty database

using ClearFn = void (*)();
using PushFn = void (*)(int, const uint8_t*, size_t);
using PendingFn = size_t (*)();

struct Harness {
  bpm::plugin::Registry plugins;
  ClearFn clear = nullptr;
  PushFn push = nullptr;
  PendingFn pending = nullptr;
  bpm::FakeClock clock{1767225600000};  // 2026-01-01
  std::string dir;
  std::unique_ptr<bpm::store::Store> store;
  std::unique_ptr<bpm::engine::Engine> engine;
  int execs = 0;
  bool verbose = std::getenv("BPM_FUZZ_VERBOSE") != nullptr;  // each command's status

  void OpenStore() {
    engine.reset();
    store.reset();
    if (!dir.empty()) bpm::fuzz::RemoveTree(dir);
    dir = bpm::fuzz::MakeScratchDir("decision-fuzz");
    auto opened = bpm::store::Store::Open("sqlite:" + dir + "/fuzz.db", 2);
    if (!opened.ok()) bpm::fuzz::Die(std::string(opened.status().message()));
    store = *std::move(opened);
    bpm::engine::EngineOptions options;
    options.due.add_days = [](int64_t from, int days) -> bpm::StatusOr<int64_t> {
      return from + int64_t{days} * 86400000;
    };
    options.due.add_working_days = [](int64_t from, int days) -> bpm::StatusOr<int64_t> {
      return from + int64_t{days} * 86400000 * 7 / 5;
    };
    bpm::store::OrgStore& orgs = store->orgs();
    options.org_resolver = [&orgs](const std::string& org, int64_t at) {
      return bpm::org::ResolveOrgContext(orgs, org, at);
    };
    engine = std::make_unique<bpm::engine::Engine>(*store, plugins, clock, options);
    for (const char* yaml : kWorkflows) {
      auto deployed = engine->Deploy(yaml, "fuzz.yaml");
      if (!deployed.ok()) bpm::fuzz::Die(std::string(deployed.status().message()));
    }
  }
};

Harness* g = nullptr;

bpm::engine::Caller AssigneeOf(const v1::Task& t) {
  bpm::engine::Caller c;
  c.user = !t.delegated_to().empty() ? t.delegated_to()
           : !t.claimed_by().empty() ? t.claimed_by()
           : !t.assignee_user().empty() ? t.assignee_user()
                                        : "fuzzer";
  if (!t.assignee_role().empty()) c.roles.push_back(t.assignee_role());
  c.org = !t.assignee_org().empty() ? t.assignee_org() : t.org();
  return c;
}

// What must hold after every command, whatever the plugin answered.
void CheckInstance(const v1::Instance& inst) {
  const char* states[] = {"work", "second", "end", "publish", "rejected"};
  bool known = false;
  for (const char* s : states) known = known || inst.state() == s;
  if (!known) __builtin_trap();
  bool over = inst.status() == "completed" || inst.status() == "terminated";
  if (over && inst.open_tasks_size() > 0) __builtin_trap();
  for (const v1::Task& t : inst.open_tasks()) {
    if (t.state() != inst.state() || t.instance_id() != inst.id()) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  bpm::fuzz::QuietProtobufLogs();
  g = new Harness();
  bpm::Status s = g->plugins.LoadDirectory(bpm::fuzz::PluginDir());
  if (!s.ok()) bpm::fuzz::Die(std::string(s.message()));
  std::string path = bpm::fuzz::FixturePluginDir() + "/bpm_stage_fuzz_stage.so";
  auto stage = bpm::plugin::LoadPluginFile(path);
  if (!stage.ok()) bpm::fuzz::Die(std::string(stage.status().message()));
  s = g->plugins.Add(*std::move(stage));
  if (!s.ok()) bpm::fuzz::Die(std::string(s.message()));
  // The registry's handle keeps it loaded; this one only finds the queue.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) bpm::fuzz::Die("fuzz_stage is not loaded");
  g->clear = reinterpret_cast<ClearFn>(dlsym(handle, "bpm_fuzz_stage_clear"));
  g->push = reinterpret_cast<PushFn>(dlsym(handle, "bpm_fuzz_stage_push"));
  g->pending = reinterpret_cast<PendingFn>(dlsym(handle, "bpm_fuzz_stage_pending"));
  if (g->clear == nullptr || g->push == nullptr || g->pending == nullptr) {
    bpm::fuzz::Die("fuzz_stage lacks its queue symbols");
  }
  g->OpenStore();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (++g->execs % kExecsPerStore == 0) g->OpenStore();
  bpm::fuzz::Input in(data, size);
  uint8_t flags = in.Byte();
  g->clear();
  while (!in.empty()) {
    uint8_t code = in.Byte();
    int rc = code % 16 == 15 ? BPM_PLUGIN_INTERNAL
             : code % 16 == 14 ? BPM_PLUGIN_BAD_REQUEST
             : code % 16 == 13 ? 77  // a code the ABI does not define
                               : BPM_PLUGIN_OK;
    std::string bytes = in.Chunk();
    g->push(rc, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }

  bpm::engine::Caller starter{"zhang", {"unit_filer"}, "906017"};
  v1::StartInstanceRequest start;
  start.set_definition_key(flags & 1 ? "fuzz-two" : "fuzz-one");
  start.set_subject_ref("P-1");
  start.set_org("906017");
  auto& vars = *start.mutable_variables()->mutable_fields();
  if (flags & 2) vars["grade"].set_string_value("优");
  if (flags & 4) (*vars["form"].mutable_struct_value()->mutable_fields())["amount"].set_number_value(500);
  auto inst = g->engine->Start(starter, start);
  if (g->verbose) std::fprintf(stderr, "decision_fuzz: start: %s\n", inst.status().ToString().c_str());
  if (!inst.ok()) return 0;
  CheckInstance(*inst);
  std::string id = inst->id();

  for (int step = 0; step < 8 && g->pending() > 0; ++step) {
    auto cur = g->engine->GetInstance(id);
    if (!cur.ok()) __builtin_trap();  // it was committed
    CheckInstance(*cur);
    if (cur->status() == "completed" || cur->status() == "terminated") break;
    if (cur->open_tasks_size() == 0 || (flags >> 4) & (1 << (step % 4))) {
      // Let due dates pass: reminders and overdue timers ask OnTimer.
      g->clock.Advance(3 * 86400000LL);
      auto fired = g->engine->RunDueTimers("fuzz", 20);
      if (g->verbose) {
        std::fprintf(stderr, "decision_fuzz: timers: %s\n", fired.status().ToString().c_str());
      }
      continue;
    }
    const v1::Task& t = cur->open_tasks(step % cur->open_tasks_size());
    v1::ActRequest act;
    act.set_task_id(t.id());
    act.set_action(t.actions_size() > 0 ? t.actions(step % t.actions_size()) : "go");
    (*act.mutable_payload()->mutable_fields())["n"].set_number_value(step);
    act.set_comment("fuzz");
    auto acted = g->engine->Act(AssigneeOf(t), act);
    if (g->verbose) {
      std::fprintf(stderr, "decision_fuzz: act %s: %s\n", act.action().c_str(),
                   acted.ok() ? acted->state().c_str() : acted.status().ToString().c_str());
    }
    if (acted.ok()) CheckInstance(*acted);
  }
  g->clear();
  return 0;
}
