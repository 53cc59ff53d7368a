// bpmctl report's renderings of a bpm.v1.GetReportResponse (proto/bpm/v1/perf.proto):
//   ReportTable  the figures as a header row and one row per department,
//                then one 合计 row per year and region; monitoring rounds
//                become six columns each (监控, 纳入范围, 红灯, 黄灯 — the
//                project light — and 执行红灯, 执行黄灯 — the budget-execution
//                light — of that month), with the decline of red+yellow
//                between the first and the last round
//   ToCsv        RFC 4180 CSV (UTF-8 with a BOM, which spreadsheet programs
//                need to read Chinese text)
//   WriteXlsx    an .xlsx workbook (libxlsxwriter): numeric cells as numbers
//   ReportSvg    an SVG chart: warnings (red and yellow) per monitoring round,
//                and the grade distribution of targets, self-evaluations and
//                key evaluations
// Thread safety: stateless. Errors: WriteXlsx returns INTERNAL naming the
// file and libxlsxwriter's reason.
#pragma once

#include <string>
#include <vector>

#include "bpm/v1/perf.pb.h"
#include "core/common/status.h"

namespace bpm::cli {

using Cells = std::vector<std::vector<std::string>>;

Cells ReportTable(const v1::GetReportResponse& report);
std::string ToCsv(const Cells& table);
Status WriteXlsx(const Cells& table, const std::string& path, const std::string& sheet);
std::string ReportSvg(const v1::GetReportResponse& report);

// bpmctl disclosures' public exports of ReportService.ListDisclosures: each
// published snapshot (canonical JSON, as recorded) with its document id and
// sha256, so a reader can check a copy against the engine's record.
//   DisclosuresJson  [{"document_id", "sha256", "snapshot": {...}}, ...]
//   DisclosuresCsv   one row per snapshot: time (China), workflow, subject,
//                    org, channel, published_by, reviewed_by, on_time,
//                    redacted paths, sha256, document id (UTF-8 with a BOM)
//   DisclosuresHtml  a self-contained page: the same table, each snapshot's
//                    published data under it, every text HTML-escaped
std::string DisclosuresJson(const v1::ListDisclosuresResponse& list);
std::string DisclosuresCsv(const v1::ListDisclosuresResponse& list);
std::string DisclosuresHtml(const v1::ListDisclosuresResponse& list, const std::string& title);

}  // namespace bpm::cli
