// bpm::engine — command → decision → commit.
//
// Every command (start an instance, act on a task) runs the same way:
//   1. load the instance and the open tasks of its current state (store);
//   2. check the lifecycles (Boost.Statechart, lifecycle.h): is the instance
//      running, is the task open;
//   3. ask the current state's stage plugin to decide (a pure function);
//   4. interpret the decision: its outcome event picks the definition's
//      transition (structured conditions), the old state's tasks are
//      cancelled, the new state's plugin is entered (which may decide again);
//   5. write everything — instance row with an optimistic version check, task
//      changes, history events, documents, idempotency record — in ONE
//      Store::Apply transaction.
// Nothing is written unless the whole command succeeds.
//
// Idempotency: a command with an idempotency key whose (scope, key) was seen
// returns the first result and changes nothing; the same key with a different
// request gets ALREADY_EXISTS.
//
// Errors: INVALID_ARGUMENT (field named), NOT_FOUND, FAILED_PRECONDITION
// (lifecycle or workflow refuses), ABORTED (a concurrent command won: re-read
// and retry), ALREADY_EXISTS, PERMISSION_DENIED, UNAVAILABLE (database),
// INTERNAL (a plugin failed; message names plugin and hook).
//
// Thread safety: an Engine is safe to use from many threads. It borrows the
// store, registry and clock, which must outlive it.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "bpm/v1/bpm.pb.h"
#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/definition/definition.h"
#include "core/plugin/loader.h"
#include "core/store/store.h"

namespace bpm::engine {

namespace v1 = ::bpm::v1;
using Caller = store::Caller;

struct EngineOptions {
  size_t max_payload_bytes = 64 * 1024;   // canonical JSON of payload / variables
  size_t max_yaml_bytes = 1024 * 1024;
  size_t max_comment_chars = 4000;
  int max_automatic_transitions = 50;     // guards against outcome cycles
};

class Engine {
 public:
  Engine(store::Store& store, const plugin::Registry& plugins, const Clock& clock,
         EngineOptions options = {});
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- definitions
  // Never fails: problems are diagnostics in the response.
  v1::ValidateDefinitionResponse Validate(const std::string& yaml, const std::string& source);
  // INVALID_ARGUMENT listing every diagnostic "file:line:col: message".
  StatusOr<v1::DeployDefinitionResponse> Deploy(const std::string& yaml,
                                                const std::string& source);
  StatusOr<v1::GetDefinitionResponse> GetDefinition(const std::string& key, int64_t version);
  StatusOr<v1::ListDefinitionsResponse> ListDefinitions(const std::string& key);

  // ---- instances
  StatusOr<v1::Instance> Start(const Caller& caller, const v1::StartInstanceRequest& request);
  StatusOr<v1::Instance> GetInstance(const std::string& id);
  StatusOr<v1::ListInstancesResponse> ListInstances(const v1::ListInstancesRequest& request);
  StatusOr<v1::GetHistoryResponse> History(const std::string& instance_id);
  StatusOr<v1::ListDocumentsResponse> Documents(const std::string& instance_id);
  StatusOr<v1::Document> GetDocument(const std::string& id);

  // ---- tasks
  StatusOr<v1::InboxResponse> Inbox(const Caller& caller, const v1::InboxRequest& request);
  StatusOr<v1::Instance> Act(const Caller& caller, const v1::ActRequest& request);

 private:
  struct Working;

  StatusOr<std::shared_ptr<const definition::Definition>> Compiled(const std::string& key,
                                                                   int64_t version);
  Status EnterState(Working& w, const std::string& state, int depth);
  Status FollowOutcome(Working& w, const definition::State& from, const std::string& outcome,
                       int depth);
  Status ApplyDecision(Working& w, const definition::State& state,
                       const plugin::pb::Decision& decision);
  StatusOr<v1::Instance> Finish(Working& w);
  // Looks up an idempotency key; returns the stored Instance when replayed.
  StatusOr<std::optional<v1::Instance>> Replay(const std::string& scope, const std::string& key,
                                               const std::string& request_hash);

  store::Store& store_;
  const plugin::Registry& plugins_;
  const Clock& clock_;
  EngineOptions options_;

  std::mutex cache_mu_;
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<const definition::Definition>>
      cache_;  // guarded by cache_mu_
};

}  // namespace bpm::engine
