#include "core/cli/report_output.h"

#include <xlsxwriter.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/common/json.h"
#include "google/protobuf/util/json_util.h"

namespace bpm::cli {
namespace {

std::string Pct(int part, int whole) {
  if (whole <= 0) return "";
  return absl::StrFormat("%.1f", 100.0 * part / whole);
}

std::string Int(int v) { return std::to_string(v); }

// Months of every round in the report, ascending.
std::vector<int> Months(const v1::GetReportResponse& report) {
  std::set<int> months;
  for (const auto* rows : {&report.rows(), &report.totals()}) {
    for (const auto& r : *rows) {
      for (const auto& m : r.rounds()) months.insert(m.month());
    }
  }
  return {months.begin(), months.end()};
}

void Row(const v1::ReportRow& r, const std::vector<int>& months, bool total, Cells* out) {
  std::vector<std::string> c = {Int(r.year()), r.region(), total ? "" : r.department(),
                                total ? "合计" : r.department_name()};
  c.insert(c.end(), {Int(r.targets_started()), Int(r.targets_filed()), Int(r.targets_reviewed()),
                     Pct(r.targets_reviewed(), r.targets_started()),
                     Int(r.target_grades().you()), Int(r.target_grades().liang()),
                     Int(r.target_grades().zhong()), Int(r.target_grades().cha()),
                     Int(r.targets_adjusted())});
  int first = -1, last = -1;
  for (int month : months) {
    const v1::MonitoringRound* round = nullptr;
    for (const auto& m : r.rounds()) {
      if (m.month() == month) round = &m;
    }
    v1::MonitoringRound empty;
    const v1::MonitoringRound& m = round != nullptr ? *round : empty;
    c.insert(c.end(), {Int(m.monitored()), Int(m.in_scope()), Int(m.red()), Int(m.yellow()),
                       Int(m.budget_red()), Int(m.budget_yellow()), Int(m.warnings()),
                       Int(m.warnings_explained()), Int(m.warnings_late())});
    if (round != nullptr) {
      if (first < 0) first = m.red() + m.yellow();
      last = m.red() + m.yellow();
    }
  }
  if (months.size() > 1) {
    c.push_back(first > 0 && last >= 0 ? absl::StrFormat("%.1f", 100.0 * (first - last) / first) : "");
  }
  c.insert(c.end(),
           {Int(r.self_evaluations()), Int(r.self_eval_grades().you()),
            Int(r.self_eval_grades().liang()), Int(r.self_eval_grades().zhong()),
            Int(r.self_eval_grades().cha()), Int(r.spot_sampled()), Int(r.spot_flagged()),
            Int(r.key_evaluations()), Int(r.key_evaluations_done()), r.key_evaluation_funds(),
            Int(r.rectifications()), Int(r.rectified()), Int(r.rectified_on_time()),
            Pct(r.rectified_on_time(), r.rectifications()), Int(r.rectifications_overdue())});
  out->push_back(std::move(c));
}

std::string Xml(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

bool IsNumber(const std::string& s) {
  if (s.empty() || s.size() > 20) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && s.find_first_not_of("0123456789.-") == std::string::npos;
}

}  // namespace

Cells ReportTable(const v1::GetReportResponse& report) {
  const std::vector<int> months = Months(report);
  std::vector<std::string> header = {"年度", "财政区划", "部门编码", "部门",
                                     "目标填报（开始）", "目标已提交", "目标已审核", "审核覆盖率%",
                                     "目标优", "目标良", "目标中", "目标差", "目标调整"};
  for (int month : months) {
    header.insert(header.end(), {absl::StrCat(month, "月监控项目"), absl::StrCat(month, "月纳入范围"),
                                 absl::StrCat(month, "月红灯"), absl::StrCat(month, "月黄灯"),
                                 absl::StrCat(month, "月执行红灯"), absl::StrCat(month, "月执行黄灯"),
                                 absl::StrCat(month, "月预警"), absl::StrCat(month, "月预警已说明"),
                                 absl::StrCat(month, "月预警逾期")});
  }
  if (months.size() > 1) header.push_back("预警下降%");
  header.insert(header.end(), {"自评完成", "自评优", "自评良", "自评中", "自评差", "抽查",
                               "抽查偏差", "重点评价", "重点评价完成", "重点评价资金（元）", "整改",
                               "整改到位", "按期整改", "按期整改率%", "整改逾期"});
  Cells out = {header};
  for (const auto& r : report.rows()) Row(r, months, false, &out);
  for (const auto& r : report.totals()) Row(r, months, true, &out);
  return out;
}

std::string ToCsv(const Cells& table) {
  std::string out = "\xEF\xBB\xBF";  // UTF-8 BOM
  for (const auto& row : table) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out += ',';
      const std::string& cell = row[i];
      if (cell.find_first_of(",\"\r\n") != std::string::npos) {
        out += '"';
        for (char ch : cell) {
          if (ch == '"') out += '"';
          out += ch;
        }
        out += '"';
      } else {
        out += cell;
      }
    }
    out += "\r\n";
  }
  return out;
}

Status WriteXlsx(const Cells& table, const std::string& path, const std::string& sheet) {
  lxw_workbook* wb = workbook_new(path.c_str());
  if (wb == nullptr) return absl::InternalError(absl::StrCat("cannot create ", path));
  lxw_worksheet* ws = workbook_add_worksheet(wb, sheet.c_str());
  lxw_format* bold = workbook_add_format(wb);
  format_set_bold(bold);
  for (size_t r = 0; r < table.size(); ++r) {
    for (size_t c = 0; c < table[r].size(); ++c) {
      const std::string& cell = table[r][c];
      const auto row = static_cast<lxw_row_t>(r);
      const auto col = static_cast<lxw_col_t>(c);
      // Codes (部门编码, 财政区划) stay text: leading zeros and length matter.
      const bool code = r > 0 && (c == 1 || c == 2);
      if (r > 0 && !code && IsNumber(cell)) {
        worksheet_write_number(ws, row, col, std::strtod(cell.c_str(), nullptr), nullptr);
      } else if (!cell.empty()) {
        worksheet_write_string(ws, row, col, cell.c_str(), r == 0 ? bold : nullptr);
      }
    }
  }
  if (!table.empty()) worksheet_freeze_panes(ws, 1, 4);
  lxw_error err = workbook_close(wb);
  if (err != LXW_NO_ERROR) {
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", lxw_strerror(err)));
  }
  return absl::OkStatus();
}

std::string ReportSvg(const v1::GetReportResponse& report) {
  // The totals of every year and region summed: one picture of the scope.
  std::map<int, std::pair<int, int>> rounds;  // month → red, yellow
  int grades[3][4] = {};
  for (const auto& t : report.totals()) {
    for (const auto& m : t.rounds()) {
      rounds[m.month()].first += m.red();
      rounds[m.month()].second += m.yellow();
    }
    const v1::GradeCounts* g[3] = {&t.target_grades(), &t.self_eval_grades(), &t.key_eval_grades()};
    for (int i = 0; i < 3; ++i) {
      grades[i][0] += g[i]->you();
      grades[i][1] += g[i]->liang();
      grades[i][2] += g[i]->zhong();
      grades[i][3] += g[i]->cha();
    }
  }
  const int width = 900, height = 360, top = 50, base = 300, bar_h = base - top;
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"WenQuanYi Zen Hei, Noto Sans CJK SC, sans-serif\" font-size=\"13\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      width, height);
  // Left: red and yellow per round.
  int max_w = 1;
  for (const auto& [m, ry] : rounds) max_w = std::max({max_w, ry.first, ry.second});
  svg += "<text x=\"20\" y=\"24\" font-size=\"16\">运行监控预警（红灯/黄灯）</text>\n";
  int x = 40;
  for (const auto& [month, ry] : rounds) {
    const int pair[2] = {ry.first, ry.second};
    const char* color[2] = {"#d62728", "#f2c12e"};
    for (int i = 0; i < 2; ++i) {
      const int h = pair[i] * bar_h / max_w;
      svg += absl::StrFormat(
          "<rect x=\"%d\" y=\"%d\" width=\"30\" height=\"%d\" fill=\"%s\"><title>%d月 %s %d</title></rect>\n"
          "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>\n",
          x + i * 32, base - h, h, color[i], month, i == 0 ? "红灯" : "黄灯", pair[i],
          x + i * 32 + 15, base - h - 4, pair[i]);
    }
    svg += absl::StrFormat("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d月</text>\n", x + 31,
                           base + 18, month);
    x += 90;
  }
  if (rounds.empty()) svg += "<text x=\"40\" y=\"160\">（无监控数据）</text>\n";
  // Right: grade distributions.
  const char* names[3] = {"目标审核", "绩效自评", "重点评价"};
  const char* grade_names[4] = {"优", "良", "中", "差"};
  const char* grade_colors[4] = {"#2ca02c", "#1f77b4", "#ff7f0e", "#d62728"};
  svg += "<text x=\"470\" y=\"24\" font-size=\"16\">等级分布</text>\n";
  int max_g = 1;
  for (auto& row : grades) {
    for (int v : row) max_g = std::max(max_g, v);
  }
  for (int i = 0; i < 3; ++i) {
    const int gx = 470 + i * 140;
    for (int g = 0; g < 4; ++g) {
      const int h = grades[i][g] * bar_h / max_g;
      svg += absl::StrFormat(
          "<rect x=\"%d\" y=\"%d\" width=\"26\" height=\"%d\" fill=\"%s\"><title>%s %s %d</title></rect>\n"
          "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>\n"
          "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">%s</text>\n",
          gx + g * 28, base - h, h, grade_colors[g], Xml(names[i]), grade_names[g], grades[i][g],
          gx + g * 28 + 13, base - h - 4, grades[i][g], gx + g * 28 + 13, base + 14, grade_names[g]);
    }
    svg += absl::StrFormat("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", gx + 56,
                           base + 34, Xml(names[i]));
  }
  svg += absl::StrFormat("<line x1=\"30\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", base,
                         width - 20, base);
  svg += "</svg>\n";
  return svg;
}

namespace {

// The fields a disclosure listing shows, read from a snapshot.
struct Snapshot {
  std::string time, workflow, subject, org, channel, by, reviewed_by, on_time, redacted, data;
};

std::string ChinaTime(double unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000) + 8 * 3600;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

Snapshot Read(const v1::Document& d) {
  Snapshot s;
  auto parsed = ParseJsonStruct(d.content());
  if (!parsed.ok()) return s;
  const auto& f = parsed->fields();
  auto str = [&](const char* k) {
    auto it = f.find(k);
    return it != f.end() && it->second.has_string_value() ? it->second.string_value() : "";
  };
  auto it = f.find("published_at_unix_ms");
  s.time = it != f.end() ? ChinaTime(it->second.number_value()) : "";
  s.workflow = str("definition_key");
  s.subject = str("subject_ref");
  s.org = str("org");
  s.channel = str("channel");
  s.by = str("published_by");
  s.reviewed_by = str("reviewed_by");
  if (auto o = f.find("on_time"); o != f.end()) s.on_time = o->second.bool_value() ? "是" : "否";
  if (auto r = f.find("redacted"); r != f.end()) {
    std::vector<std::string> paths;
    for (const auto& v : r->second.list_value().values()) paths.push_back(v.string_value());
    s.redacted = absl::StrJoin(paths, "; ");
  }
  if (auto data = f.find("data"); data != f.end()) {
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    o.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(data->second, &s.data, o);
  }
  return s;
}

std::string Html(const std::string& s) { return Xml(s); }

}  // namespace

std::string DisclosuresJson(const v1::ListDisclosuresResponse& list) {
  std::string out = "[";
  for (int i = 0; i < list.documents_size(); ++i) {
    const v1::Document& d = list.documents(i);
    absl::StrAppend(&out, i ? ",\n " : "\n ", "{\"document_id\": \"", d.id(), "\", \"sha256\": \"",
                    d.sha256(), "\", \"snapshot\": ", d.content(), "}");
  }
  out += list.documents_size() ? "\n]\n" : "]\n";
  return out;
}

std::string DisclosuresCsv(const v1::ListDisclosuresResponse& list) {
  Cells t = {{"公开时间", "工作流", "项目/事项编码", "单位", "渠道", "发布人", "审核人", "按期",
              "隐去项", "sha256", "文档ID"}};
  for (const v1::Document& d : list.documents()) {
    Snapshot s = Read(d);
    t.push_back({s.time, s.workflow, s.subject, s.org, s.channel, s.by, s.reviewed_by, s.on_time,
                 s.redacted, d.sha256(), d.id()});
  }
  return ToCsv(t);
}

std::string DisclosuresHtml(const v1::ListDisclosuresResponse& list, const std::string& title) {
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>", Html(title),
      "</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}"
      "pre{white-space:pre-wrap;margin:0}code{font-size:11px}</style>\n</head>\n<body>\n<h1>",
      Html(title), "</h1>\n<p>", list.documents_size(),
      " 条公开信息。每条的 sha256 是引擎所存快照的摘要，可据此核对副本。</p>\n<table>\n"
      "<tr><th>公开时间</th><th>工作流</th><th>项目/事项</th><th>单位</th><th>渠道</th><th>按期</th>"
      "<th>隐去项</th><th>公开内容</th><th>sha256</th></tr>\n");
  for (const v1::Document& d : list.documents()) {
    Snapshot s = Read(d);
    absl::StrAppend(&out, "<tr><td>", Html(s.time), "</td><td>", Html(s.workflow), "</td><td>",
                    Html(s.subject), "</td><td>", Html(s.org), "</td><td>", Html(s.channel),
                    "</td><td>", Html(s.on_time), "</td><td>", Html(s.redacted),
                    "</td><td><details><summary>查看</summary><pre>", Html(s.data),
                    "</pre></details></td><td><code>", Html(d.sha256()), "</code></td></tr>\n");
  }
  out += "</table>\n</body>\n</html>\n";
  return out;
}

}  // namespace bpm::cli
