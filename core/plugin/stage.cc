#include "core/plugin/stage.h"

namespace bpm::plugin {

std::string ConfigWire(const google::protobuf::Struct& config) {
  pb::EnterRequest only_config;
  *only_config.mutable_context()->mutable_config() = config;
  return only_config.SerializeAsString();
}

namespace {

// The request with its config filled in, for transports that send whole
// messages.
template <typename Req>
Req WithConfig(const Req& request, const google::protobuf::Struct& config) {
  Req full = request;
  *full.mutable_context()->mutable_config() = config;
  return full;
}

}  // namespace

StatusOr<pb::Decision> StageHandle::EnterWithConfig(pb::EnterRequest& request,
                                                    const Config& config) const {
  return Enter(WithConfig(request, config.value));
}

StatusOr<pb::Decision> StageHandle::ActWithConfig(pb::ActRequest& request,
                                                  const Config& config) const {
  return Act(WithConfig(request, config.value));
}

}  // namespace bpm::plugin
