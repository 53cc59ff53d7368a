// bpm::plugin — the host side of the stage-plugin contract.
//
// StageHandle is the one interface the engine calls for a stage, whatever the
// transport (in-process dlopen today; gRPC for remote plugins later). Each call
// sends one bpm.plugin.v1 request and returns the plugin's answer.
//
// Errors: a plugin that fails (exception at its boundary, unparsable answer)
// yields INTERNAL with a message naming the plugin, its version and the hook.
// Thread safety: all methods are const and safe to call concurrently.
#pragma once

#include <string>
#include <vector>

#include "bpm/plugin/v1/plugin.pb.h"
#include "core/common/status.h"

namespace bpm::plugin {

namespace pb = ::bpm::plugin::v1;

class StageHandle {
 public:
  virtual ~StageHandle() = default;
  StageHandle() = default;
  StageHandle(const StageHandle&) = delete;
  StageHandle& operator=(const StageHandle&) = delete;

  // Stage name and plugin version, as the plugin described itself.
  virtual const pb::DescribeResponse& description() const = 0;
  // Where it came from (a file path or an address), for messages.
  virtual const std::string& origin() const = 0;

  virtual StatusOr<pb::ValidateConfigResponse> ValidateConfig(
      const pb::ValidateConfigRequest& request) const = 0;
  virtual StatusOr<pb::Decision> Enter(const pb::EnterRequest& request) const = 0;
  virtual StatusOr<pb::Decision> Act(const pb::ActRequest& request) const = 0;
  virtual StatusOr<pb::Decision> OnTimer(const pb::TimerRequest& request) const = 0;
};

}  // namespace bpm::plugin
