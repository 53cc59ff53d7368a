// Micro-benchmark of JSON <-> Struct, old against new: protobuf's
// JsonStringToMessage against bpm::ParseJsonStruct (core/common/json.h), and
// the original plugin::CanonicalJson (snprintf, a byte at a time; copied
// below) against the current one. The payload is a realistic target-filing
// form: Chinese text and an indicators table of ten rows.
//
//   json_bench [--seconds S]     (default 1 second per measurement)
//
// Prints MB/s and documents/s of each, and the speed-ups. Single-threaded.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bpm/plugin/sdk.h"
#include "core/common/json.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/reference_canonical_json.h"

namespace {

using Clock = std::chrono::steady_clock;
using google::protobuf::Struct;
using google::protobuf::Value;

std::string Payload() {
  static const char* kLevel2[] = {"数量指标", "质量指标", "时效指标", "成本指标",
                                  "经济效益指标", "社会效益指标", "生态效益指标",
                                  "可持续影响指标", "服务对象满意度指标", "数量指标"};
  std::string rows;
  for (int i = 0; i < 10; ++i) {
    char row[1024];
    std::snprintf(row, sizeof row,
                  R"(%s{"level1": "%s", "level2": "%s", "name": "第%d项：完成农村公路养护里程（含县道、乡道）",)"
                  R"( "operator": "≥", "target": "%d", "unit": "公里", "weight": %d,)"
                  R"( "score": %.1f, "remark": "按季度填报，\"附件\"见附表%d\n数据来源：交通运输局"})",
                  i == 0 ? "" : ",\n    ", i < 5 ? "产出指标" : i < 8 ? "效益指标" : "满意度指标",
                  kLevel2[i], i + 1, 100 * (i + 1), 10, 9.5 - i * 0.25, i + 1);
    rows += row;
  }
  return std::string(R"({
  "project_name": "2024年度农村公路养护工程绩效目标申报",
  "project_code": "XM-2024-0317",
  "department": "县交通运输局",
  "contact": {"name": "张三", "phone": "0571-88888888", "email": "zhangsan@example.gov.cn"},
  "amount": 5000000, "central_funds": 1200000.5, "local_funds": 3799999.5,
  "period": {"start": "2024-01-01", "end": "2024-12-31"},
  "annual_goal": "完成全县农村公路日常养护1200公里，优良中等路率达到85%以上，群众满意度不低于90%。",
  "attachments": ["实施方案.pdf", "预算明细表.xlsx", "绩效目标表.docx"],
  "confirmed": true, "reviewer_comment": null,
  "indicators": [
    )") + rows + "\n  ]\n}";
}

// ---- Measuring -----------------------------------------------------------------

struct Rate {
  double docs_per_s;
  double mb_per_s;
};

// Runs fn repeatedly for `seconds`; fn returns a value folded into a sink so
// the work cannot be optimized away.
template <typename Fn>
Rate Measure(const char* name, double seconds, size_t bytes_per_doc, Fn&& fn) {
  size_t sink = 0;
  for (int i = 0; i < 200; ++i) sink += fn();  // warm up
  long docs = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(seconds));
  auto now = start;
  while (now < end) {
    for (int i = 0; i < 100; ++i) sink += fn();
    docs += 100;
    now = Clock::now();
  }
  const double elapsed = std::chrono::duration<double>(now - start).count();
  Rate r{static_cast<double>(docs) / elapsed,
         static_cast<double>(docs) * static_cast<double>(bytes_per_doc) / elapsed / 1e6};
  std::printf("  %-34s %10.0f docs/s %8.1f MB/s %8.2f us/doc  (sink %zu)\n", name, r.docs_per_s,
              r.mb_per_s, 1e6 / r.docs_per_s, sink % 10);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
  }
  const std::string pretty = Payload();
  Struct parsed;
  if (!google::protobuf::util::JsonStringToMessage(pretty, &parsed).ok()) {
    std::fprintf(stderr, "payload rejected by protobuf\n");
    return 1;
  }
  auto mine = bpm::ParseJsonStruct(pretty);
  if (!mine.ok() || bpm::plugin::CanonicalJson(*mine) != bpm::testing::ReferenceCanonicalJson(parsed)) {
    std::fprintf(stderr, "parsers disagree on the payload\n");
    return 1;
  }
  const std::string compact = bpm::plugin::CanonicalJson(parsed);  // what the store holds
  if (bpm::testing::ReferenceCanonicalJson(parsed) != compact) {
    std::fprintf(stderr, "CanonicalJson changed its output\n");
    return 1;
  }

  for (const auto* doc : {&compact, &pretty}) {
    std::printf("parse, %s payload (%zu bytes):\n", doc == &compact ? "canonical" : "pretty",
                doc->size());
    const Rate old_rate = Measure("protobuf JsonStringToMessage", seconds, doc->size(), [&] {
      Struct s;
      (void)google::protobuf::util::JsonStringToMessage(*doc, &s);
      return static_cast<size_t>(s.fields_size());
    });
    const Rate new_rate = Measure("bpm::ParseJsonStruct", seconds, doc->size(), [&] {
      auto s = bpm::ParseJsonStruct(*doc);
      return static_cast<size_t>(s->fields_size());
    });
    std::printf("  speed-up: %.1fx\n", new_rate.docs_per_s / old_rate.docs_per_s);
  }

  std::printf("serialize (CanonicalJson, %zu bytes out):\n", compact.size());
  const Rate old_rate = Measure("CanonicalJson (original)", seconds, compact.size(),
                                [&] { return bpm::testing::ReferenceCanonicalJson(parsed).size(); });
  const Rate new_rate = Measure("plugin::CanonicalJson", seconds, compact.size(),
                                [&] { return bpm::plugin::CanonicalJson(parsed).size(); });
  std::printf("  speed-up: %.1fx\n", new_rate.docs_per_s / old_rate.docs_per_s);
  return 0;
}
