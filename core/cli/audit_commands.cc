#include "core/cli/audit_commands.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/store/audit.h"
#include "core/store/store.h"

namespace bpm::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct AuditFlags {
  std::string store;
  std::string file;
  std::string out;
  std::vector<std::string> anchors;
};

void Fail(const std::string& command, const std::string& message) {
  std::cerr << "bpmctl: audit " << command << ": " << message << '\n';
}

// "SEQ:HASH" -> anchors[SEQ] = HASH.
bool ParseAnchors(const std::vector<std::string>& flags, std::map<int64_t, std::string>* out) {
  for (const std::string& flag : flags) {
    const size_t colon = flag.find(':');
    int64_t seq = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(flag.substr(0, colon), &seq) || seq < 1 ||
        flag.size() - colon - 1 != 64) {
      Fail("verify", absl::StrCat("--anchor '", flag,
                                  "': expected SEQ:HASH (a global position and its 64-hex "
                                  "chain hash, as `bpmctl audit export` prints)"));
      return false;
    }
    (*out)[seq] = flag.substr(colon + 1);
  }
  return true;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

int Report(const std::vector<store::AuditFinding>& findings, int64_t events,
           const store::AuditHead& head, bool json) {
  if (json) {
    std::cout << "{\"intact\": " << (findings.empty() ? "true" : "false")
              << ", \"events\": " << events << ", \"head_seq\": " << head.seq
              << ", \"head_hash\": " << JsonString(head.hash) << ", \"findings\": [";
    for (size_t i = 0; i < findings.size(); ++i) {
      std::cout << (i ? ", " : "") << "{\"where\": " << JsonString(findings[i].where)
                << ", \"problem\": " << JsonString(findings[i].problem) << "}";
    }
    std::cout << "]}\n";
  } else {
    for (const auto& f : findings) std::cout << f.Text() << '\n';
    if (findings.empty()) {
      std::cout << "audit trail intact: " << events << " events, head " << head.seq << ":"
                << head.hash << '\n';
    } else {
      std::cout << findings.size() << " problem(s) in " << events << " events\n";
    }
  }
  return findings.empty() ? kExitOk : kExitFailure;
}

int Verify(const AuditFlags& flags, bool json) {
  std::map<int64_t, std::string> anchors;
  if (!ParseAnchors(flags.anchors, &anchors)) return kExitUsage;
  if (flags.store.empty() == flags.file.empty()) {
    Fail("verify", "give exactly one of --store URL and --file EXPORT");
    return kExitUsage;
  }
  if (!flags.file.empty()) {
    auto report = store::VerifyAuditFile(flags.file, anchors);
    if (!report.ok()) {
      Fail("verify", std::string(report.status().message()));
      return kExitFailure;
    }
    return Report(report->findings, report->events, report->head, json);
  }
  auto opened = store::Store::Open(flags.store, 1);
  if (!opened.ok()) {
    Fail("verify", std::string(opened.status().message()));
    return kExitFailure;
  }
  store::AuditVerifier verifier;
  for (const auto& [seq, hash] : anchors) verifier.Anchor(seq, hash);
  auto head = (*opened)->ScanAudit(
      [&](const store::AuditInstance& i) { verifier.AddInstance(i); },
      [&](const store::EventRow& e) { verifier.AddEvent(e); },
      [&](const store::EventRow& e) { verifier.AddChainEvent(e); });
  if (!head.ok()) {
    Fail("verify", std::string(head.status().message()));
    return kExitFailure;
  }
  const int64_t events = verifier.events();
  return Report(verifier.Finish(*head), events, *head, json);
}

int Export(const AuditFlags& flags, bool json) {
  if (flags.store.empty() || flags.out.empty()) {
    Fail("export", "--store URL and --out FILE are required");
    return kExitUsage;
  }
  auto opened = store::Store::Open(flags.store, 1);
  if (!opened.ok()) {
    Fail("export", std::string(opened.status().message()));
    return kExitFailure;
  }
  // The header, written first, needs the head, which the scan returns last:
  // the instances and events go to a scratch file meanwhile (a province's
  // trail is millions of lines; memory holds one at a time), and are copied
  // after the header. The export appears under its name only when complete.
  const std::string tmp = flags.out + ".part";
  const std::string lines_tmp = flags.out + ".lines.part";
  auto fail = [&](const std::string& message) {
    Fail("export", message);
    std::remove(lines_tmp.c_str());
    std::remove(tmp.c_str());
    return kExitFailure;
  };
  std::ofstream lines(lines_tmp, std::ios::binary | std::ios::trunc);
  if (!lines) return fail(absl::StrCat(lines_tmp, ": cannot write"));
  auto written = store::WriteAuditLines(**opened, lines);
  if (!written.ok()) return fail(std::string(written.status().message()));
  const store::AuditHead& head = written->head;
  const int64_t events = written->events;
  lines.close();
  if (!lines) return fail(absl::StrCat(lines_tmp, ": write failed"));
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return fail(absl::StrCat(tmp, ": cannot write"));
  out << store::AuditHeaderLine(head, now) << '\n';
  std::ifstream copied(lines_tmp, std::ios::binary);
  if (!copied) return fail(absl::StrCat(lines_tmp, ": cannot read"));
  // (Inserting an empty stream buffer would set out's failbit.)
  if (copied.peek() != std::ifstream::traits_type::eof()) out << copied.rdbuf();
  out.close();
  if (!out || std::rename(tmp.c_str(), flags.out.c_str()) != 0) {
    return fail(absl::StrCat(flags.out, ": write failed"));
  }
  std::remove(lines_tmp.c_str());
  if (json) {
    std::cout << "{\"file\": " << JsonString(flags.out) << ", \"events\": " << events
              << ", \"head_seq\": " << head.seq << ", \"head_hash\": " << JsonString(head.hash)
              << "}\n";
  } else {
    std::cout << "exported " << events << " events to " << flags.out << "\n"
              << "anchor (keep it elsewhere; verify with --anchor): " << head.seq << ":"
              << head.hash << '\n';
  }
  return kExitOk;
}

}  // namespace

AuditCommand AddAuditCommand(CLI::App& app) {
  auto flags = std::make_shared<AuditFlags>();
  CLI::App* audit = app.add_subcommand(
      "audit", "Verify or export the tamper-evident audit trail (reads the database directly)");
  audit->require_subcommand(1);
  CLI::App* verify = audit->add_subcommand(
      "verify", "Check every history event's hash chain; name any edited, deleted, inserted "
                "or reordered event");
  verify->add_option("--store", flags->store, "store URL (sqlite:PATH or mysql://...)");
  verify->add_option("--file", flags->file, "an export written by `bpmctl audit export`");
  verify->add_option("--anchor", flags->anchors,
                     "SEQ:HASH recorded earlier (repeatable): the chain must still pass there");
  CLI::App* exp = audit->add_subcommand("export", "Write the audit trail to a file (JSON Lines)");
  exp->add_option("--store", flags->store, "store URL")->required();
  exp->add_option("--out", flags->out, "output file")->required();
  return {audit, [flags, verify, exp](bool json) {
            if (verify->parsed()) return Verify(*flags, json);
            if (exp->parsed()) return Export(*flags, json);
            return kExitUsage;
          }};
}

}  // namespace bpm::cli
