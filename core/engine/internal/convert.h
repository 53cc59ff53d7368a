// Internal to core/engine: conversions between store rows, plugin messages
// and API messages, and small request checks shared by the engine's files.
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "bpm/plugin/v1/plugin.pb.h"
#include "bpm/v1/bpm.pb.h"
#include "core/common/status.h"
#include "core/store/store.h"

namespace bpm::engine::internal {

namespace pb = ::bpm::plugin::v1;
namespace v1 = ::bpm::v1;

std::string StringsToJson(const std::vector<std::string>& items);
std::string StringsToJson(const google::protobuf::RepeatedPtrField<std::string>& items);
std::vector<std::string> StringsFromJson(const std::string& json);
google::protobuf::Struct StructFromJson(const std::string& json);

pb::TaskInfo ToTaskInfo(const store::TaskRow& t);
// inst may be null (then definition key, subject and org stay empty).
v1::Task ToTask(const store::TaskRow& t, const store::InstanceRow* inst);
// Active tasks among `tasks` become open_tasks.
// vars: the instance's variables when the caller has them parsed already
// (else r.variables_json is parsed).
v1::Instance ToInstance(const store::InstanceRow& r, const std::vector<store::TaskRow>& tasks,
                        const google::protobuf::Struct* vars = nullptr);
v1::DefinitionSummary Summary(const store::DefinitionRow& row, const std::vector<std::string>& states);
v1::Document ToDocument(const store::DocumentRow& d);
v1::Event ToEvent(const store::EventRow& e);

// INVALID_ARGUMENT "<field>: N bytes exceeds the limit of M".
Status CheckLength(const std::string& value, size_t max, const char* field);
StatusOr<int64_t> ParsePageToken(const std::string& token);  // "" -> 0
StatusOr<int> PageSize(int requested);                          // 0 -> 50; max 500

}  // namespace bpm::engine::internal
