// core/definition/graph.h: a definition as Graphviz DOT, with a path drawn on.
#include "core/definition/graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bpm::definition {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const char* kYaml = R"(key: g
title: 标题 "quoted"
initial: a
variables: { score: number }
states:
  a:
    title: 填报
    stage: department_submit
    on: { submitted: b }
  b:
    stage: review
    on:
      approved:
        - { to: c, when: { var: score, ge: 60 } }
        - { to: a }
  c: { final: true }
)";

TEST(GraphTest, StatesEdgesAndConditions) {
  ParseResult r = Parse(kYaml, "g.yaml");
  ASSERT_TRUE(r.diagnostics.empty()) << r.diagnostics.front().ToString();
  const std::string dot = ToDot(*r.definition, "g v2");
  EXPECT_THAT(dot, HasSubstr("digraph \"g\" {\n"));
  EXPECT_THAT(dot, HasSubstr("label=\"标题 \\\"quoted\\\"\\ng v2\";"));
  EXPECT_THAT(dot, HasSubstr("  \"a\" [label=\"填报\\na\\n[department_submit]\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  \"c\" [label=\"c\", peripheries=2];\n"));
  EXPECT_THAT(dot, HasSubstr("  \"__start\" -> \"a\";\n"));
  EXPECT_THAT(dot, HasSubstr("  \"b\" -> \"c\" [label=\"approved\\nscore ge 60\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  \"b\" -> \"a\" [label=\"approved\"];\n"));
  EXPECT_THAT(dot, Not(HasSubstr("fillcolor")));
  EXPECT_EQ(dot.back(), '\n');
}

TEST(GraphTest, PathIsDrawn) {
  ParseResult r = Parse(kYaml, "g.yaml");
  ASSERT_TRUE(r.definition);
  Path path;
  path.visited = {"a", "b"};
  path.taken = {{"a", "b"}};
  path.current = "b";
  const std::string dot = ToDot(*r.definition, "g v1", &path);
  EXPECT_THAT(dot, HasSubstr("  \"a\" [label=\"填报\\na\\n[department_submit]\", "
                             "style=\"rounded,filled\", fillcolor=\"#dbeafe\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  \"b\" [label=\"b\\n[review]\", style=\"rounded,filled\", "
                             "fillcolor=\"#dbeafe\", color=\"#dc2626\", penwidth=2.5];\n"));
  EXPECT_THAT(dot, HasSubstr("  \"__start\" -> \"a\" [color=\"#2563eb\", penwidth=2];\n"));
  EXPECT_THAT(dot, HasSubstr("  \"a\" -> \"b\" [label=\"submitted\", color=\"#2563eb\", "
                             "fontcolor=\"#2563eb\", penwidth=2];\n"));
  EXPECT_THAT(dot, HasSubstr("  \"b\" -> \"c\" [label=\"approved\\nscore ge 60\"];\n"));
}

}  // namespace
}  // namespace bpm::definition
