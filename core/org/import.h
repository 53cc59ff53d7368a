// bpm::org::ImportOrgFile — bulk import of an org file (YAML or CSV) into
// the org model: regions, orgs (with effective dates), users and role
// grants. Used by OrgService.Import and `bpmctl org import`. The full format
// with examples is docs/org-import.md; in brief:
//
// YAML (top-level keys regions, orgs, users, grants; all optional):
//   regions:
//     - {code: "360726000", name: 安远县, level: county, parent: "360700000"}
//   orgs:
//     - code: czj                      # required: code, name, kind
//       name: 安远县财政局
//       kind: finance_bureau           # finance_bureau|finance_section|department|unit
//       region: "360726000"            # default: the parent's region
//     - {code: czj-jkw, name: 教科文股, kind: finance_section,
//        section_kind: business, parent: czj}
//     - {code: "906", name: 县教育局, kind: department, region: "360726000",
//        owner_section: czj-jkw}
//     - {code: "906017", name: 县第一中学, kind: unit, parent: "906"}
//     - {code: "906017", name: 县第一中学, kind: unit, parent: "907",
//        valid_from: 2026-07-01}       # a second version: moves from that date
//     - {code: "906019", active: false, valid_from: 2026-09-01}   # dissolved
//   users:
//     - id: zhang
//       name: 张三
//       roles:                          # grants of this user
//         - {role: unit_filer, org: "906017", from: 2026-01-01, to: 2026-12-31}
//   grants:                             # grants of users defined anywhere
//     - {user: li, role: dept_reviewer, org: "906"}
//
// CSV: one file, a header row naming the columns (any order; only `type` is
// required), then one row per item; blank lines and lines starting with '#'
// are skipped; RFC 4180 quoting; a UTF-8 BOM is ignored. Columns by type:
//   type=region  code, name, level, parent
//   type=org     code, name, kind, parent, region, section_kind,
//                owner_section, valid_from, active
//   type=user    user (the id), name
//   type=grant   user, role, org, from, to
// A column that does not apply to a row's type must be empty there.
//
// Dates are YYYY-MM-DD in China time (UTC+8). valid_from and from default
// to options.now_ms; `to` (exclusive) defaults to no end; active to true.
//
// Everything is checked BEFORE anything is written: syntax, unknown keys or
// columns, kinds and levels, required fields, dates, duplicates (an org may
// appear once per valid_from), references (parent, region, owner_section,
// a grant's user and org must exist in the file or in the store, as of the
// row's date), parent loops and overlapping grants. Then everything is
// written in ONE store transaction (OrgStore::Apply). The import is
// idempotent: rows already stored as given count as unchanged and are not
// written again; an org row equal to the version in effect at its
// valid_from adds no version.
//
// Errors: INVALID_ARGUMENT listing every problem, one per line, as
// "SOURCE:LINE[:COLUMN]: MESSAGE" (column for YAML), e.g.
//   county.csv:12: org 906017: parent '907' does not exist
// INVALID_ARGUMENT too for an unknown format; UNAVAILABLE/INTERNAL/ABORTED
// from the store (nothing is written then either).
// Thread safety: stateless; safe to call concurrently if the store is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/common/status.h"
#include "core/store/org_store.h"

namespace bpm::org {

enum class ImportFormat { kAuto, kYaml, kCsv };

// "yaml"/"yml" -> kYaml, "csv" -> kCsv, "" -> kAuto; else INVALID_ARGUMENT.
StatusOr<ImportFormat> ParseImportFormat(std::string_view name);

struct ImportOptions {
  ImportFormat format = ImportFormat::kAuto;  // kAuto: by source_name's extension
  std::string source_name = "<request>";      // used in messages
  int64_t now_ms = 0;                         // default valid_from / from
  bool dry_run = false;                       // validate and count only
};

struct ImportCounts {
  int written = 0;    // rows inserted or changed (or that would be, on a dry run)
  int unchanged = 0;  // already stored as given
};

struct ImportReport {
  ImportCounts regions;
  ImportCounts orgs;  // org versions
  ImportCounts users;
  ImportCounts grants;
  // Org versions written, as (code, valid_from_ms): callers re-route the open
  // tasks of those already in effect.
  std::vector<std::pair<std::string, int64_t>> changed_orgs;
};

StatusOr<ImportReport> ImportOrgFile(store::OrgStore& store, std::string_view text,
                                     const ImportOptions& options);

}  // namespace bpm::org
