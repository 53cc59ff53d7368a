#include "core/plugin/loader.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bpm/plugin/abi.h"
#include "bpm/plugin/message_library.h"
#include "core/common/util.h"

namespace bpm::plugin {
namespace {

// Calls one hook of the C table: request bytes in, response bytes out.
// Translates failure codes into INTERNAL with the plugin's own message.
// With message calls (ABI 1.1, the plugin on bpmd's own copy of the message
// code) Enter, Act and OnTimer hand the plugin the request object and take
// the decision object back; otherwise, and always for describe and
// validate_config, they cross as bytes.
class InProcessStage final : public StageHandle {
 public:
  InProcessStage(void* handle, const bpm_plugin_v1* table, std::string path, bool messages)
      : handle_(handle), table_(table), path_(std::move(path)), messages_(messages) {}
  ~InProcessStage() override {
    // The Registry owning this handle outlives every call into the plugin.
    if (handle_ != nullptr) dlclose(handle_);
  }

  Status Init() {
    pb::DescribeRequest req;
    req.set_host_abi_major(BPM_PLUGIN_ABI_MAJOR);
    req.set_host_abi_minor(BPM_PLUGIN_ABI_MINOR);
    Status s = Call("describe", table_->describe, req, &description_);
    if (!s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("plugin ", path_, ": describe failed: ", s.message()));
    }
    if (description_.name() != table_->name || description_.version() != table_->version) {
      return absl::FailedPreconditionError(absl::StrCat(
          "plugin ", path_, ": describe names stage '", description_.name(), "' ",
          description_.version(), " but its entry table names '", table_->name, "' ",
          table_->version));
    }
    return absl::OkStatus();
  }

  const pb::DescribeResponse& description() const override { return description_; }
  const std::string& origin() const override { return path_; }
  std::string_view transport() const override {
    return messages_ ? "in process, messages" : "in process, bytes";
  }

  StatusOr<pb::ValidateConfigResponse> ValidateConfig(
      const pb::ValidateConfigRequest& request) const override {
    pb::ValidateConfigResponse resp;
    BPM_RETURN_IF_ERROR(Call("validate_config", table_->validate_config, request, &resp));
    return resp;
  }
  // A request given as const carries its config, so a message hook leaves it
  // unchanged (abi.h: only config_wire lets it set the config).
  StatusOr<pb::Decision> Enter(const pb::EnterRequest& request) const override {
    return CallDecision("enter", table_->enter, &bpm_plugin_v1::enter_message,
                        const_cast<pb::EnterRequest&>(request));
  }
  StatusOr<pb::Decision> Act(const pb::ActRequest& request) const override {
    return CallDecision("act", table_->act, &bpm_plugin_v1::act_message,
                        const_cast<pb::ActRequest&>(request));
  }
  StatusOr<pb::Decision> OnTimer(const pb::TimerRequest& request) const override {
    return CallDecision("on_timer", table_->on_timer, &bpm_plugin_v1::on_timer_message,
                        const_cast<pb::TimerRequest&>(request));
  }
  StatusOr<pb::Decision> EnterWithConfig(pb::EnterRequest& request,
                                         const Config& config) const override {
    return CallDecision("enter", table_->enter, &bpm_plugin_v1::enter_message, request,
                        &config.wire);
  }
  StatusOr<pb::Decision> ActWithConfig(pb::ActRequest& request,
                                       const Config& config) const override {
    return CallDecision("act", table_->act, &bpm_plugin_v1::act_message, request, &config.wire);
  }

 private:
  // message_hook: the table's member, read only with messages_ (a table of
  // ABI 1.0 ends before it). prefix: the config's wire bytes (ConfigWire),
  // when not in the request.
  template <typename Req>
  StatusOr<pb::Decision> CallDecision(const char* hook, bpm_plugin_hook_fn fn,
                                      bpm_plugin_message_hook_fn bpm_plugin_v1::*message_hook,
                                      Req& request, const std::string* prefix = nullptr) const {
    pb::Decision d;
    if (!messages_) {
      BPM_RETURN_IF_ERROR(Call(hook, fn, request, &d, prefix));
      return d;
    }
    const std::string_view wire = prefix == nullptr ? std::string_view() : *prefix;
    uint8_t* error = nullptr;
    size_t error_len = 0;
    const int rc = (table_->*message_hook)(
        &request, prefix == nullptr ? nullptr : reinterpret_cast<const uint8_t*>(wire.data()),
        wire.size(), &d, &error, &error_len);
    std::string message(reinterpret_cast<const char*>(error), error == nullptr ? 0 : error_len);
    if (error != nullptr) table_->free_buffer(error, error_len);
    if (rc != BPM_PLUGIN_OK) return Failed(hook, message);
    return d;
  }

  Status Failed(const char* hook, const std::string& message) const {
    return absl::InternalError(absl::StrCat("stage plugin '", table_->name, "' ",
                                            table_->version, " (", path_, ") ", hook,
                                            " failed: ", message));
  }

  // prefix: request bytes sent ahead of the serialized request (ConfigWire).
  Status Call(const char* hook, bpm_plugin_hook_fn fn,
              const google::protobuf::Message& request,
              google::protobuf::Message* response,
              const std::string* prefix = nullptr) const {
    std::string in;
    if (prefix != nullptr) in = *prefix;
    request.AppendToString(&in);
    uint8_t* out = nullptr;
    size_t out_len = 0;
    int rc = fn(reinterpret_cast<const uint8_t*>(in.data()), in.size(), &out, &out_len);
    std::string bytes(reinterpret_cast<const char*>(out), out == nullptr ? 0 : out_len);
    if (out != nullptr) table_->free_buffer(out, out_len);
    if (rc != BPM_PLUGIN_OK) return Failed(hook, bytes);
    if (!response->ParseFromString(bytes)) {
      return absl::InternalError(absl::StrCat("stage plugin '", table_->name, "' ",
                                              table_->version, " (", path_, ") ", hook,
                                              " returned bytes that are not a ",
                                              response->GetTypeName()));
    }
    return absl::OkStatus();
  }

  void* handle_;
  const bpm_plugin_v1* table_;
  std::string path_;
  const bool messages_;
  pb::DescribeResponse description_;
};

// Whether table's plugin takes message calls on this process's copy of the
// message code (abi.h, ABI 1.1).
bool TakesMessages(const bpm_plugin_v1& table) {
  if (table.abi_minor < 1 || table.message_library == nullptr ||
      table.enter_message == nullptr || table.act_message == nullptr ||
      table.on_timer_message == nullptr) {
    return false;
  }
  return SameMessageLibrary(table.message_library(), ThisMessageLibrary());
}

}  // namespace

StatusOr<PluginPins> ReadPluginPins(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("plugin pins ", path, ": cannot open"));
  PluginPins pins;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find(' ');
    std::string hash = line.substr(0, space);
    std::string name = space == std::string::npos ? "" : line.substr(space);
    name.erase(0, name.find_first_not_of(" *"));
    const bool hex = hash.size() == 64 &&
                     hash.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex || name.empty() || name.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", n, ": expected \"SHA256  FILE.so\" (64 lowercase hex digits, two spaces, "
          "a file name), as `sha256sum *.so` prints"));
    }
    pins[name] = hash;
  }
  return pins;
}

Status CheckPluginFile(const std::string& path, const PluginPins* pins) {
  auto refuse = [&](const std::string& why) {
    return absl::PermissionDeniedError(absl::StrCat("plugin ", path, ": refused: ", why));
  };
  struct stat file;
  if (stat(path.c_str(), &file) != 0) {
    return absl::NotFoundError(absl::StrCat("plugin ", path, ": cannot stat"));
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  struct stat parent;
  if (stat(dir.empty() ? "." : dir.c_str(), &parent) != 0) {
    return absl::NotFoundError(absl::StrCat("plugin ", path, ": cannot stat its directory"));
  }
  char mode[8];
  if ((file.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(file.st_mode & 07777));
    return refuse(absl::StrCat("writable by group or others (mode ", mode, "); chmod go-w it"));
  }
  if ((parent.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(parent.st_mode & 07777));
    return refuse(absl::StrCat("its directory is writable by group or others (mode ", mode,
                               "): anyone could replace the file; chmod go-w the directory"));
  }
  const uid_t me = geteuid();
  if (file.st_uid != me && file.st_uid != 0) {
    return refuse(absl::StrCat("owned by uid ", file.st_uid, ", neither bpmd's user (uid ", me,
                               ") nor root"));
  }
  if (pins == nullptr) return absl::OkStatus();
  const std::string name = std::filesystem::path(path).filename().string();
  auto pin = pins->find(name);
  if (pin == pins->end()) return refuse(absl::StrCat("'", name, "' is not in the pin file"));
  BPM_ASSIGN_OR_RETURN(std::string content, ReadWholeFile(path));
  const std::string actual = Sha256Hex(content);
  if (actual != pin->second) {
    return refuse(absl::StrCat("sha256 ", actual, " is not the pinned ", pin->second));
  }
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<StageHandle>> LoadPluginFile(const std::string& path,
                                                      const PluginPins* pins,
                                                      PluginCalls calls) {
  BPM_RETURN_IF_ERROR(CheckPluginFile(path, pins));
  // RTLD_LOCAL keeps each plugin's symbols to itself; RTLD_NOW surfaces
  // missing symbols at load, not at the first call.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, ": cannot dlopen: ", err != nullptr ? err : "unknown"));
  }
  auto entry = reinterpret_cast<bpm_plugin_entry_v1_fn>(dlsym(handle, BPM_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    dlclose(handle);
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, ": missing entry symbol ", BPM_PLUGIN_ENTRY_SYMBOL));
  }
  const bpm_plugin_v1* table = entry();
  if (table == nullptr) {
    dlclose(handle);
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, ": entry symbol returned no table"));
  }
  if (table->abi_major != BPM_PLUGIN_ABI_MAJOR || table->abi_minor > BPM_PLUGIN_ABI_MINOR) {
    std::string name = table->name != nullptr ? table->name : "?";
    std::string version = table->version != nullptr ? table->version : "?";
    Status s = absl::FailedPreconditionError(absl::StrCat(
        "plugin ", path, ": ABI ", table->abi_major, ".", table->abi_minor,
        " is incompatible with host ABI ", BPM_PLUGIN_ABI_MAJOR, ".", BPM_PLUGIN_ABI_MINOR,
        " (stage '", name, "' ", version, ")"));
    dlclose(handle);
    return s;
  }
  if (table->name == nullptr || table->version == nullptr || table->describe == nullptr ||
      table->validate_config == nullptr || table->enter == nullptr || table->act == nullptr ||
      table->on_timer == nullptr || table->free_buffer == nullptr) {
    dlclose(handle);
    return absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, ": entry table has a null name, version or hook"));
  }
  const bool messages = calls == PluginCalls::kMessagesWhenShared && TakesMessages(*table);
  auto stage = std::make_unique<InProcessStage>(handle, table, path, messages);
  BPM_RETURN_IF_ERROR(stage->Init());
  return std::unique_ptr<StageHandle>(std::move(stage));
}

Status Registry::Add(std::unique_ptr<StageHandle> stage) {
  const std::string& name = stage->description().name();
  auto it = stages_.find(name);
  if (it != stages_.end()) {
    return absl::AlreadyExistsError(absl::StrCat("plugin ", stage->origin(), ": stage '", name,
                                                 "' is already provided by ",
                                                 it->second->origin()));
  }
  stages_.emplace(name, std::move(stage));
  return absl::OkStatus();
}

Status Registry::LoadDirectory(const std::string& dir, const PluginPins* pins) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("plugin directory ", dir, " does not exist"));
  }
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".so") files.push_back(entry.path().string());
  }
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("plugin directory ", dir, ": ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    BPM_ASSIGN_OR_RETURN(auto stage, LoadPluginFile(file, pins));
    BPM_RETURN_IF_ERROR(Add(std::move(stage)));
  }
  return absl::OkStatus();
}

const StageHandle* Registry::Find(const std::string& name) const {
  auto it = stages_.find(name);
  return it == stages_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Registry::Names() const {
  std::vector<std::string> names;
  for (const auto& kv : stages_) names.push_back(kv.first);
  return names;
}

}  // namespace bpm::plugin
