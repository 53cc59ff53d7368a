// bpmctl report's renderings (core/cli/report_output.h): the columns follow
// the rounds present, CSV quotes what needs quoting, XLSX errors name the file.
#include "core/cli/report_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace bpm::cli {
namespace {

using ::testing::HasSubstr;

v1::GetReportResponse OneDepartment() {
  v1::GetReportResponse r;
  v1::ReportRow* row = r.add_rows();
  row->set_year(2026);
  row->set_region("360726000");
  row->set_department("906");
  row->set_department_name("教育局, \"机关\"");
  row->set_targets_started(4);
  row->set_targets_reviewed(3);
  row->set_targets_adjusted(1);
  for (int month : {7, 10}) {
    v1::MonitoringRound* m = row->add_rounds();
    m->set_month(month);
    m->set_red(month == 7 ? 4 : 1);
    m->set_yellow(month == 7 ? 2 : 2);
    m->set_warnings(month == 7 ? 6 : 3);
    m->set_warnings_late(month == 7 ? 1 : 0);
  }
  *r.add_totals() = *row;
  r.mutable_totals(0)->set_department("");
  return r;
}

TEST(ReportOutput, ColumnsFollowTheRoundsAndTheDeclineIsComputed) {
  Cells t = ReportTable(OneDepartment());
  ASSERT_EQ(t.size(), 3u);  // header, 906, 合计
  const auto& h = t[0];
  auto col = [&](const std::string& name) {
    return static_cast<size_t>(std::find(h.begin(), h.end(), name) - h.begin());
  };
  ASSERT_LT(col("10月黄灯"), h.size());
  EXPECT_EQ(t[1][col("7月红灯")], "4");
  EXPECT_EQ(t[1][col("10月黄灯")], "2");
  EXPECT_EQ(t[1][col("7月预警")], "6");
  EXPECT_EQ(t[1][col("7月预警逾期")], "1");
  EXPECT_EQ(col("7月预警逾期"), col("7月预警已说明") + 1);
  EXPECT_EQ(t[1][col("审核覆盖率%")], "75.0");
  ASSERT_LT(col("目标调整"), h.size());
  EXPECT_EQ(t[1][col("目标调整")], "1");
  EXPECT_EQ(col("目标调整"), col("目标差") + 1);
  EXPECT_EQ(t[1][col("预警下降%")], "50.0");  // 6 → 3
  EXPECT_EQ(t[2][col("部门")], "合计");
  EXPECT_EQ(t[2][col("部门编码")], "");
  // One round: no decline column.
  v1::GetReportResponse one = OneDepartment();
  one.mutable_rows(0)->mutable_rounds()->RemoveLast();
  one.mutable_totals(0)->mutable_rounds()->RemoveLast();
  Cells t1 = ReportTable(one);
  EXPECT_EQ(std::find(t1[0].begin(), t1[0].end(), "预警下降%"), t1[0].end());
}

TEST(ReportOutput, CsvQuotesCommasAndQuotes) {
  const std::string csv = ToCsv({{"a", "b,c"}, {"x\"y", "1"}});
  EXPECT_EQ(csv, "\xEF\xBB\xBF" "a,\"b,c\"\r\n\"x\"\"y\",1\r\n");
  EXPECT_THAT(ToCsv(ReportTable(OneDepartment())), HasSubstr(",\"教育局, \"\"机关\"\"\","));
}

TEST(ReportOutput, XlsxErrorsNameTheFile) {
  Status s = WriteXlsx({{"a"}}, "/nonexistent-dir/r.xlsx", "s");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent-dir/r.xlsx"));
}

TEST(ReportOutput, SvgDrawsEveryRound) {
  const std::string svg = ReportSvg(OneDepartment());
  EXPECT_THAT(svg, HasSubstr("<title>7月 红灯 4</title>"));
  EXPECT_THAT(svg, HasSubstr("<title>10月 黄灯 2</title>"));
  EXPECT_THAT(svg, HasSubstr("</svg>"));
}

}  // namespace
}  // namespace bpm::cli
