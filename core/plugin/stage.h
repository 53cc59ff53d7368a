// bpm::plugin — the host side of the stage-plugin contract.
//
// StageHandle is the one interface the engine calls for a stage, whatever the
// transport (in-process dlopen, core/plugin/loader.h; gRPC, core/plugin/
// remote.h). Each call sends one bpm.plugin.v1 request and returns the
// plugin's answer.
//
// Errors: a plugin that fails (exception at its boundary, unparsable answer,
// an error status from a remote plugin) yields INTERNAL with a message naming
// the plugin, its version and the hook. A remote plugin that cannot be
// reached or does not answer within its deadline yields UNAVAILABLE: the
// command must be refused (nothing decided), never treated as approval.
// Thread safety: all methods are const and safe to call concurrently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bpm/plugin/v1/plugin.pb.h"
#include "core/common/status.h"

namespace bpm::plugin {

namespace pb = ::bpm::plugin::v1;

// The config of a state as the wire bytes of a request holding only
// context.config: "context" is field 1 of EnterRequest, ActRequest and
// TimerRequest alike, and protobuf merges a repeated message field, so these
// bytes followed by a request serialized without its config parse as the
// whole request. Plugins built with the SDK recognise the prefix and reuse
// the Struct they parsed from it last time (plugins/sdk: ConfigCache).
std::string ConfigWire(const google::protobuf::Struct& config);

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

  // The same calls for a request whose context.config is left empty and
  // given apart: a state's config never changes, so the in-process transport
  // sends the bytes serialized once (config.wire) ahead of the request, or
  // lends the plugin's cached copy of it into the request (the request is
  // lent for the call: its context.config may be set during it and is as it
  // was on return), instead of copying and serializing the Struct on every
  // call. By default the config is copied into a copy of the request.
  struct Config {
    const google::protobuf::Struct& value;
    const std::string& wire;  // ConfigWire(value)
  };
  virtual StatusOr<pb::Decision> EnterWithConfig(pb::EnterRequest& request,
                                                 const Config& config) const;
  virtual StatusOr<pb::Decision> ActWithConfig(pb::ActRequest& request,
                                               const Config& config) const;

  // How calls reach the stage, for operators: "in process, messages",
  // "in process, bytes" or "gRPC" (core/plugin/loader.h, remote.h).
  virtual std::string_view transport() const = 0;
  virtual StatusOr<pb::Decision> OnTimer(const pb::TimerRequest& request) const = 0;

  // Whether the plugin is believed able to answer. In-process plugins always
  // are; a remote plugin (core/plugin/remote.h) reports the result of its
  // latest background health check. Advisory only: a call may still fail
  // with UNAVAILABLE, and callers must handle that whatever this says.
  virtual bool healthy() const { return true; }
};

}  // namespace bpm::plugin
