// What identifies a copy of the bpm.plugin.v1 message code (ABI 1.1's
// message_library; see abi.h). The host and the SDK both compute it with this
// header; the host passes its message objects to a plugin only when the two
// are equal, that is when the plugin was compiled against the same generated
// classes and runs on the same loaded copy of them.
// Thread safety: pure functions.
#pragma once

#include <cstdint>

#include "bpm/plugin/abi.h"
#include "bpm/plugin/v1/plugin.pb.h"

namespace bpm::plugin {

// The default instance's address (which loaded copy) and the classes' sizes
// as this translation unit was compiled (which generated code): a plugin built
// against another version of plugin.proto differs in the second even when the
// process holds one copy.
inline bpm_plugin_message_library ThisMessageLibrary() {
  uint64_t layout = 14695981039346656037ull;  // FNV-1a over the sizes
  for (uint64_t size :
       {sizeof(v1::EnterRequest), sizeof(v1::ActRequest), sizeof(v1::TimerRequest),
        sizeof(v1::StageContext), sizeof(v1::TaskInfo), sizeof(v1::Decision),
        sizeof(v1::TaskSpec), sizeof(v1::VariableSelection), sizeof(google::protobuf::Struct),
        sizeof(google::protobuf::Value), sizeof(google::protobuf::ListValue)}) {
    layout = (layout ^ size) * 1099511628211ull;
  }
  return bpm_plugin_message_library{&v1::Decision::default_instance(), layout};
}

inline bool SameMessageLibrary(const bpm_plugin_message_library& a,
                               const bpm_plugin_message_library& b) {
  return a.decision_default_instance == b.decision_default_instance && a.layout == b.layout;
}

}  // namespace bpm::plugin
