// bpmctl's audit trail commands. They read the database (or an export file)
// directly, not through bpmd: an auditor checks what is stored, with nothing
// of the server in between.
//   audit verify --store URL [--anchor SEQ:HASH]...
//   audit verify --file EXPORT.jsonl [--anchor SEQ:HASH]...
//   audit export --store URL --out EXPORT.jsonl
// verify prints each problem it finds, naming the event ("instance ID event
// N") or the global chain position, and exits 1 when there is any; export
// writes the trail (format in core/store/audit.h) and prints its head, the
// anchor to keep elsewhere (a rewritten history no longer reaches it).
// Exit codes as bpmctl's: 0 intact, 1 tampering found or the store failed,
// 2 usage error.
// Thread safety: none needed (bpmctl is single-threaded).
#pragma once

#include <functional>
#include <vector>

#include "CLI/CLI.hpp"

namespace bpm::cli {

// One subcommand ("audit") declared on app, and what runs it when parsed
// (json: print JSON instead of text); returns the exit code.
struct AuditCommand {
  CLI::App* app;
  std::function<int(bool json)> run;
};
AuditCommand AddAuditCommand(CLI::App& app);

}  // namespace bpm::cli
