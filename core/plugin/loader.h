// Loading in-process stage plugins (dlopen) and the registry of stages.
//
// LoadPluginFile opens one shared object, resolves bpm_plugin_entry_v1, checks
// the ABI (major must equal the host's, minor must not be newer), calls
// Describe and checks that the described name/version equal the table's.
// Registry owns every loaded stage by name and refuses duplicates.
//
// Errors (exact prefixes are asserted by tests):
//   FAILED_PRECONDITION "plugin <path>: cannot dlopen: ..."
//   FAILED_PRECONDITION "plugin <path>: missing entry symbol bpm_plugin_entry_v1"
//   FAILED_PRECONDITION "plugin <path>: ABI <M.m> is incompatible with host ABI <M.m> ..."
//   FAILED_PRECONDITION "plugin <path>: describe failed: ..."
//   ALREADY_EXISTS      "plugin <path>: stage '<name>' is already provided by <path>"
//   PERMISSION_DENIED   "plugin <path>: refused: ..." when the file or its directory
//                       is writable by group or others, or the file is owned by
//                       neither the service user nor root; or, with pins, when the
//                       file is not pinned or its sha256 differs
//
// Before dlopen the loader checks who could have changed the file: code loaded
// into bpmd runs with all of its rights, so a file anyone else may write is
// refused (as sshd refuses its keys). Pins (`bpmd --plugin-sha256 FILE`, the
// output of `sha256sum *.so`) additionally fix the exact content by file name.
// Thread safety: a Registry is filled at start-up, then read-only and safe to
// share. Loaded libraries stay loaded until the Registry is destroyed.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/common/status.h"
#include "core/plugin/stage.h"

namespace bpm::plugin {

// Expected sha256 (lowercase hex) by plugin file name ("bpm_stage_review.so").
using PluginPins = std::map<std::string, std::string>;

// Parses a pin file: lines "HEX  NAME" as sha256sum writes them ("*NAME" for
// binary mode too); blank lines and "#" comments skipped. INVALID_ARGUMENT
// naming file:line for anything else.
StatusOr<PluginPins> ReadPluginPins(const std::string& path);

// Checks the file's mode, owner and directory, and its pin when pins is not
// null (see the file comment). PERMISSION_DENIED; NOT_FOUND when missing.
Status CheckPluginFile(const std::string& path, const PluginPins* pins);

// How a loaded plugin's Enter, Act and OnTimer are called. With
// kMessagesWhenShared the host hands the plugin its request and decision
// objects when the plugin declares (ABI 1.1) the very copy of the
// bpm.plugin.v1 message code that bpmd runs on, and bytes otherwise; kBytes
// always serializes (tests compare the two). Both decide the same.
enum class PluginCalls { kMessagesWhenShared, kBytes };

// Checks (CheckPluginFile) and loads one plugin shared object.
StatusOr<std::unique_ptr<StageHandle>> LoadPluginFile(
    const std::string& path, const PluginPins* pins = nullptr,
    PluginCalls calls = PluginCalls::kMessagesWhenShared);

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Takes ownership; ALREADY_EXISTS when the stage name is taken.
  Status Add(std::unique_ptr<StageHandle> stage);
  // Loads every *.so of dir (sorted by name) and adds it. Stops at the first
  // error. NOT_FOUND when dir does not exist. pins: see LoadPluginFile.
  Status LoadDirectory(const std::string& dir, const PluginPins* pins = nullptr);
  // nullptr when no stage has that name.
  const StageHandle* Find(const std::string& name) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, std::unique_ptr<StageHandle>> stages_;
};

}  // namespace bpm::plugin
