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

}  // namespace bpm::cli
