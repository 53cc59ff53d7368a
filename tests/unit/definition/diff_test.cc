// core/definition/diff.h: a structural diff in workflow terms and a unified
// line diff of the YAML texts.
#include "core/definition/diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bpm::definition {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const char* kV1 = R"(key: k
title: 旧
initial: draft
variables: { grade: string }
states:
  draft:
    stage: department_submit
    config: { deadline: { days: 10 }, fields: [a, b] }
    on: { submitted: review }
  review:
    stage: review
    on:
      approved:
        - { to: fix, when: { var: grade, in: [中, 差] } }
        - { to: done }
      returned: draft
  fix:
    stage: rectification
    on: { closed: done }
  done: { final: true }
)";

const char* kV2 = R"(key: k
title: 新
initial: draft
variables: { grade: { type: string, values: [中, 差] }, score: number }
states:
  draft:
    stage: department_submit
    config: { deadline: { days: 15 }, fields: [a], owner: unit }
    on: { submitted: review }
  review:
    stage: final_review
    on:
      approved: done
      escalated: done
  done: { final: true }
)";

std::unique_ptr<Definition> Must(const char* yaml) {
  ParseResult r = Parse(yaml, "k.yaml");
  EXPECT_TRUE(r.diagnostics.empty()) << r.diagnostics.front().ToString();
  return std::move(r.definition);
}

TEST(DiffTest, StructuralChangesInWorkflowTerms) {
  auto a = Must(kV1), b = Must(kV2);
  EXPECT_THAT(StructuralDiff(*a, *b),
              ElementsAre("title: '旧' -> '新'",
                          "variable grade: string -> string [中, 差]",
                          "variable score: added (number)",
                          "state draft: config deadline.days: 10 -> 15",
                          "state draft: config owner: added \"unit\"",
                          "state draft: config fields[1]: removed \"b\"",
                          "state review: stage review -> final_review",
                          "state review: on approved: [fix when grade in [\"中\",\"差\"]; done] -> done",
                          "state review: on escalated: added -> done",
                          "state review: on returned: removed (was -> draft)",
                          "state fix: removed"));
  EXPECT_THAT(StructuralDiff(*a, *a), IsEmpty());
}

TEST(DiffTest, UnifiedLineDiff) {
  const std::string a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
  const std::string b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13\n";
  EXPECT_EQ(UnifiedDiff(a, b, "k v1", "k v2"),
            "--- k v1\n+++ k v2\n"
            "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
            "@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+13\n");
  EXPECT_EQ(UnifiedDiff(a, a, "x", "y"), "");
  // Everything new: the old range is empty and names line 0.
  EXPECT_EQ(UnifiedDiff("", "x\n", "a", "b"), "--- a\n+++ b\n@@ -0,0 +1,1 @@\n+x\n");
}

TEST(DiffTest, ConditionText) {
  auto d = Must(R"(key: c
initial: a
variables: { score: number, late: bool }
states:
  a:
    stage: review
    on:
      approved:
        - { to: z, when: { all: [ { var: score, ge: 60 }, { not: { var: late, eq: true } } ] } }
        - { to: z }
  z: { final: true }
)");
  const auto& alt = d->states[0].on.at("approved");
  ASSERT_TRUE(alt[0].when.has_value());
  EXPECT_EQ(ConditionText(*alt[0].when), "all(score ge 60, not(late eq true))");
}

}  // namespace
}  // namespace bpm::definition
