// The SDK's variables read by name (plugins/sdk: "Instance variables"): a
// stage with kVariablesByName gets its request without context.variables and
// reads each variable decoded from the request's bytes on demand. Whatever
// the bytes, it must see what a whole parse of them would have given. Also
// the SDK's per-config compiled objects (CompiledConfig), which ride on the
// same request parsing.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bpm/plugin/sdk.h"
#include "core/plugin/stage.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace bpm::plugin {
namespace {

using google::protobuf::util::MessageDifferencer;

Struct ParseJson(const std::string& json) {
  Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &s).ok()) << json;
  return s;
}

const char* kVariables = R"({
  "form": {"project_name": "基准测试项目", "amount": 500000,
           "indicators": [{"name": "完成数", "weight": 20}, {"name": "满意度", "weight": 80}]},
  "submitted_by": "filer1", "grade": "优", "published": true, "nothing": null,
  "empty": {}, "list": [1, "two", [3]], "": "the empty key"})";

pb::ActRequest Request(const Struct& vars) {
  pb::ActRequest req;
  pb::StageContext* ctx = req.mutable_context();
  ctx->set_instance_id("i-1");
  ctx->set_state("review");
  *ctx->mutable_variables() = vars;
  (*ctx->mutable_config()->mutable_fields())["title"].set_string_value("审核");
  ctx->mutable_actor()->set_user("u1");
  req.mutable_task()->set_id("t-1");
  req.set_action("approve");
  (*req.mutable_payload()->mutable_fields())["grade"].set_string_value("良");
  return req;
}

// A request parsed the way a stage with kVariablesByName gets it.
struct ByName {
  google::protobuf::Arena arena;
  pb::ActRequest* req = google::protobuf::Arena::CreateMessage<pb::ActRequest>(&arena);
  internal::LazyVariables vars{&arena};
  std::shared_ptr<const internal::ConfigEntry> config;

  bool Parse(const std::string& bytes) {
    return internal::ParseRequest(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                  req, &config, &vars);
  }
};

// Parses bytes both ways: whole, and with the variables read by name. Both
// must agree on everything but context.variables, and every variable.
void ExpectSameAsWholeParse(const std::string& bytes) {
  pb::ActRequest whole;
  ASSERT_TRUE(whole.ParseFromString(bytes));

  ByName p;
  ASSERT_TRUE(p.Parse(bytes));
  const pb::ActRequest* req = p.req;
  EXPECT_EQ(req->context().variables().fields_size(), 0);
  internal::ConfigLease<pb::ActRequest> lease(*p.req, p.config);
  internal::VariablesScope scope(&p.vars);

  pb::ActRequest rest = whole;
  rest.mutable_context()->clear_variables();
  EXPECT_TRUE(MessageDifferencer::Equals(*req, rest))
      << req->DebugString() << "\nvs\n" << rest.DebugString();

  const Variables v = Vars(req->context());
  for (const auto& [name, value] : whole.context().variables().fields()) {
    const Value* got = v.Find(name);
    ASSERT_NE(got, nullptr) << name;
    EXPECT_TRUE(MessageDifferencer::Equals(*got, value)) << name;
  }
  EXPECT_EQ(v.Find("absent"), nullptr);
  // Unknown fields of the Struct itself (none from a real host) are dropped.
  Struct expected = whole.context().variables();
  expected.DiscardUnknownFields();
  EXPECT_TRUE(MessageDifferencer::Equals(v.All(), expected));
  // Find after All answers from the same decoded values.
  for (const auto& [name, value] : whole.context().variables().fields()) {
    EXPECT_TRUE(MessageDifferencer::Equals(*v.Find(name), value)) << name;
  }
}

// IntegerOr truncates as static_cast does, and answers the fallback where
// the cast would be undefined.
TEST(SdkVariablesTest, IntegerOrNeverCastsOutOfRange) {
  Struct s;
  auto set = [&](double v) { (*s.mutable_fields())["k"].set_number_value(v); };
  set(3.9);
  EXPECT_EQ(IntegerOr<int>(s, "k", 7), 3);
  set(-3.9);
  EXPECT_EQ(IntegerOr<int>(s, "k", 7), -3);
  set(2147483647.5);
  EXPECT_EQ(IntegerOr<int>(s, "k", 7), 2147483647);
  set(2147483648.0);
  EXPECT_EQ(IntegerOr<int>(s, "k", 7), 7);
  set(-2147483648.0);
  EXPECT_EQ(IntegerOr<int>(s, "k", 7), -2147483647 - 1);
  set(-2147483649.0);
  EXPECT_EQ(IntegerOr<int>(s, "k", 7), 7);
  set(9.3e18);
  EXPECT_EQ(IntegerOr<int64_t>(s, "k", 7), 7);
  set(-9223372036854775808.0);
  EXPECT_EQ(IntegerOr<int64_t>(s, "k", 7), std::numeric_limits<int64_t>::min());
  set(std::nan(""));
  EXPECT_EQ(IntegerOr<int>(s, "k", 7), 7);
  set(std::numeric_limits<double>::infinity());
  EXPECT_EQ(IntegerOr<int64_t>(s, "k", 7), 7);
  (*s.mutable_fields())["k"].set_string_value("3");
  EXPECT_EQ(IntegerOr<int>(s, "k", 7), 7);
  EXPECT_EQ(IntegerOr<int>(s, "absent", 7), 7);
}

TEST(SdkVariablesTest, ByNameSeesWhatAWholeParseSees) {
  ExpectSameAsWholeParse(Request(ParseJson(kVariables)).SerializeAsString());
}

TEST(SdkVariablesTest, NoVariablesAtAll) {
  ExpectSameAsWholeParse(Request(Struct()).SerializeAsString());
}

TEST(SdkVariablesTest, TheHostsTwoPartFormWithItsConfigPrefix) {
  // What InProcessStage sends: ConfigWire(config) ahead of the request
  // serialized without its config.
  pb::ActRequest req = Request(ParseJson(kVariables));
  const std::string prefix = ConfigWire(req.context().config());
  req.mutable_context()->clear_config();
  const std::string bytes = prefix + req.SerializeAsString();

  ByName p;
  ASSERT_TRUE(p.Parse(bytes));
  const pb::ActRequest* parsed = p.req;
  ASSERT_NE(p.config, nullptr);  // the prefix was recognised and cached
  EXPECT_EQ(StringOr(p.config->config, "title", ""), "审核");
  internal::VariablesScope scope(&p.vars);
  EXPECT_EQ(StringOr(Vars(parsed->context()), "submitted_by", ""), "filer1");
  EXPECT_EQ(StructOr(Vars(parsed->context()), "form").fields().at("amount").number_value(),
            500000);
  ExpectSameAsWholeParse(bytes);
}

TEST(SdkVariablesTest, AConfigPrefixAloneIsARequestWithoutVariables) {
  // The two-part form with nothing after the config: the context exists
  // only once the config is lent to it, and there are no variables.
  const std::string bytes = ConfigWire(Request(Struct()).context().config());
  ByName p;
  ASSERT_TRUE(p.Parse(bytes));
  ASSERT_NE(p.config, nullptr);
  internal::ConfigLease<pb::ActRequest> lease(*p.req, p.config);
  internal::VariablesScope scope(&p.vars);
  EXPECT_EQ(Vars(p.req->context()).Find("anything"), nullptr);
  EXPECT_EQ(Vars(p.req->context()).All().fields_size(), 0);
}

TEST(SdkVariablesTest, LaterChunksWinAsInAParse) {
  // A message field may arrive in several chunks that protobuf merges; a map
  // key repeated in a later chunk replaces the earlier value.
  pb::ActRequest first = Request(ParseJson(R"({"a": "1", "b": {"x": 1}})"));
  pb::ActRequest second;
  *second.mutable_context()->mutable_variables() = ParseJson(R"({"b": "2", "c": [true]})");
  second.mutable_context()->set_state("finance_review");
  pb::ActRequest third;
  *third.mutable_context()->mutable_variables() = ParseJson(R"({"a": null})");
  ExpectSameAsWholeParse(first.SerializeAsString() + second.SerializeAsString() +
                         third.SerializeAsString());
}

// Bytes wrapped as context.variables (field 7) inside context (field 1).
std::string WithRawVariables(const std::string& struct_bytes) {
  std::string context = Request(Struct()).context().SerializeAsString();
  context += '\x3a';
  internal::AppendVarint(struct_bytes.size(), &context);
  context += struct_bytes;
  std::string bytes = "\x0a";
  internal::AppendVarint(context.size(), &bytes);
  return bytes + context;
}

TEST(SdkVariablesTest, ManyVariablesInChunksAsInAParse) {
  // Past a few dozen variables they are found through an index (a client may
  // start an instance with thousands); keys repeated in later chunks win.
  Struct first, second;
  for (int i = 0; i < 3000; ++i) {
    (*first.mutable_fields())["v" + std::to_string(i)].set_number_value(i);
    if (i % 7 == 0) (*second.mutable_fields())["v" + std::to_string(i)].set_string_value("later");
  }
  (*second.mutable_fields())["new"].set_bool_value(true);
  pb::ActRequest a = Request(first), b;
  *b.mutable_context()->mutable_variables() = second;
  ExpectSameAsWholeParse(a.SerializeAsString() + b.SerializeAsString());
  // Few variables first, then enough to need the index in a later chunk.
  pb::ActRequest few = Request(ParseJson(R"({"v7": "first", "x": 1})"));
  ExpectSameAsWholeParse(few.SerializeAsString() + a.SerializeAsString() +
                         b.SerializeAsString());
}

TEST(SdkVariablesTest, OddButWellFormedBytesReadAsAParseReadsThem) {
  // Map entries with a key of the wrong wire type, an unknown field, a value
  // left out, and a Struct field that is not `fields`: a parse keeps what it
  // knows and skips the rest; so must the by-name reader.
  const std::string entries = std::string("\x0a\x04\x08\x01\x12\x00", 6) +  // key as varint
                              std::string("\x0a\x03\x0a\x01k", 5) +           // no value
                              std::string("\x0a\x05\x0a\x01j\x18\x07", 7) + // unknown field 3
                              std::string("\x10\x05", 2);                       // Struct field 2
  ExpectSameAsWholeParse(WithRawVariables(entries));

  // A group (wire type 3) is an unknown field to a parse, kept whole: in a
  // map entry, in the variables, in the context and in the request.
  const std::string group = std::string("\xa3\x01\x08\x05\xa4\x01", 6);  // field 20 {1: 5}
  const std::string entry = std::string("\x0a\x09\x0a\x01g", 5) + group;
  ExpectSameAsWholeParse(WithRawVariables(entry + group));
  std::string context = Request(ParseJson(kVariables)).context().SerializeAsString() + group;
  std::string bytes = "\x0a";
  internal::AppendVarint(context.size(), &bytes);
  ExpectSameAsWholeParse(bytes + context + group);
  // An end-group that closes another field's group: refused either way.
  const std::string crossed = std::string("\xa3\x01\xac\x01", 4);  // starts 20, ends 21
  pb::ActRequest whole;
  EXPECT_FALSE(whole.ParseFromString(crossed));
  EXPECT_FALSE(ByName().Parse(crossed));
}

TEST(SdkVariablesTest, MalformedBytesAreRefusedLikeAnyBadRequest) {
  auto refused = [](const std::string& bytes) { return !ByName().Parse(bytes); };
  // A map entry longer than the variables holding it.
  const std::string overlong = WithRawVariables(std::string("\x0a\x09\x0a\x01k", 5));
  EXPECT_TRUE(refused(overlong));
  pb::ActRequest whole;
  EXPECT_FALSE(whole.ParseFromString(overlong));  // a whole parse refuses it too

  // A context length near 2^64 (UBSan reported the pointer arithmetic of
  // the config-prefix check on it).
  EXPECT_TRUE(refused(std::string("\x0a\xc7\xff\xff\xff\xff\xff\xff\xff\xff\x01\x0e\xf1", 13)));

  // Truncated requests: refused, never read past the end.
  const std::string good = Request(ParseJson(kVariables)).SerializeAsString();
  for (size_t cut = 1; cut < good.size(); cut += 7) {
    EXPECT_TRUE(refused(good.substr(0, cut))) << cut;
  }
}

TEST(SdkVariablesTest, AValueThatIsNotAValueFailsWhenRead) {
  // A string_value that is not UTF-8: a whole parse refuses the request; read
  // by name, the variable fails when it is read (the hook then fails).
  const std::string bytes =
      WithRawVariables(std::string("\x0a\x08\x0a\x01k\x12\x03\x1a\x01\xff", 10));
  ByName p;
  ASSERT_TRUE(p.Parse(bytes));
  const pb::ActRequest* parsed = p.req;
  internal::VariablesScope scope(&p.vars);
  EXPECT_EQ(Vars(parsed->context()).Find("other"), nullptr);
  // Either way the error names the variable.
  auto failure = [](auto read) -> std::string {
    try {
      read();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(failure([&] { Vars(parsed->context()).Find("k"); }),
            "variables.k: not a valid google.protobuf.Value");
  EXPECT_EQ(failure([&] { Vars(parsed->context()).All(); }),
            "variables.k: not a valid google.protobuf.Value");
}

TEST(SdkVariablesTest, VarsOfACopyIsRefusedWhileVariablesAreReadByName) {
  const std::string bytes = Request(ParseJson(kVariables)).SerializeAsString();
  ByName p;
  ASSERT_TRUE(p.Parse(bytes));
  const pb::ActRequest* parsed = p.req;
  const pb::StageContext copy = parsed->context();
  {
    internal::VariablesScope scope(&p.vars);
    EXPECT_THROW(Vars(copy), std::logic_error);
    EXPECT_NO_THROW(Vars(parsed->context()));
  }
  // Outside a call that reads by name, Vars reads the context's own Struct.
  pb::ActRequest whole;
  ASSERT_TRUE(whole.ParseFromString(bytes));
  EXPECT_EQ(StringOr(Vars(whole.context()), "grade", ""), "优");
}

// A stage as a plugin author writes one, called through the same hook
// wrapper BPM_PLUGIN_EXPORT uses.
class ByNameStage : public Stage {
 public:
  static constexpr bool kVariablesByName = true;
  pb::DescribeResponse Describe() const override { return {}; }
  void ValidateConfig(const Struct&, std::vector<pb::ConfigError>*) const override {}
  pb::Decision Enter(const pb::EnterRequest&) const override { return Accept(); }
  pb::Decision Act(const pb::ActRequest& request) const override {
    pb::Decision d = Accept();
    d.set_note(Substitute("${var.submitted_by} graded ${var.grade}", request.context()) + " / " +
               std::to_string(request.context().variables().fields_size()));
    return d;
  }
};

// Calls a stage's act hook through the wrapper BPM_PLUGIN_EXPORT uses: the
// return code, and the decision's note (the error text when it failed).
template <typename StageT, bool kByName>
std::pair<int, std::string> CallAct(const std::string& bytes) {
  uint8_t* out = nullptr;
  size_t out_len = 0;
  const StageT stage;
  const int rc = internal::CallHook<pb::ActRequest, kByName>(
      "act", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &out, &out_len,
      [&](const pb::ActRequest& q) { return stage.Act(q); });
  std::string text(reinterpret_cast<char*>(out), out_len);
  internal::FreeBuffer(out, out_len);
  if (rc != BPM_PLUGIN_OK) return {rc, text};
  pb::Decision d;
  EXPECT_TRUE(d.ParseFromString(text));
  return {rc, d.note()};
}

using Answer = std::pair<int, std::string>;

TEST(SdkVariablesTest, AHookReadsByNameAndSeesNoWholeStruct) {
  const std::string bytes = Request(ParseJson(kVariables)).SerializeAsString();
  // By name: Vars() answers, and context.variables was never decoded.
  EXPECT_EQ((CallAct<ByNameStage, ByNameStage::kVariablesByName>(bytes)),
            (Answer{BPM_PLUGIN_OK, "filer1 graded 优 / 0"}));
  // The default: the request is decoded whole; Vars() gives the same answers.
  EXPECT_EQ((CallAct<ByNameStage, false>(bytes)), (Answer{BPM_PLUGIN_OK, "filer1 graded 优 / 8"}));
  EXPECT_EQ(internal::current_call.variables, nullptr);  // nothing left behind
}


// ---- Declared variables (Stage::VariablesRead, StageContext.variables_selected)

// A context as a host sends it to a stage that declared what it reads.
std::string SelectedRequest(const std::vector<std::string>& declared) {
  Struct vars;
  Struct all = ParseJson(kVariables);
  pb::ActRequest req = Request(Struct());
  pb::VariableSelection* selected = req.mutable_context()->mutable_variables_selected();
  for (const std::string& name : declared) {
    selected->add_names(name);
    auto it = all.fields().find(name);
    if (it != all.fields().end()) (*vars.mutable_fields())[name] = it->second;
  }
  *req.mutable_context()->mutable_variables() = vars;
  return req.SerializeAsString();
}

class SelectiveStage : public ByNameStage {
 public:
  pb::Decision Act(const pb::ActRequest& request) const override {
    const Variables v = Vars(request.context());
    // One read after the other: the first undeclared one throws.
    const std::string by = StringOr(v, "submitted_by", "-");
    const bool empty = v.Find("empty") != nullptr;
    const int all = v.All().fields_size();
    const std::string grade = StringOr(v, "grade", "-");
    pb::Decision d = Accept();
    d.set_note(by + " " + std::to_string(empty) + " " + std::to_string(all) + " " + grade);
    return d;
  }
};

// Reading a declared variable works (absent ones read as absent); reading
// one the stage did not declare fails the hook, naming the variable and the
// declaration, read by name or from a whole parse alike.
TEST(SdkVariablesTest, AStageReadsOnlyTheVariablesItDeclared) {
  const std::string declared =
      SelectedRequest({"empty", "grade", "nothing_such", "submitted_by"});
  EXPECT_EQ((CallAct<SelectiveStage, true>(declared)), (Answer{BPM_PLUGIN_OK, "filer1 1 3 优"}));
  EXPECT_EQ((CallAct<SelectiveStage, false>(declared)), (Answer{BPM_PLUGIN_OK, "filer1 1 3 优"}));
  const std::string short_of_grade = SelectedRequest({"empty", "submitted_by"});
  for (const auto& [rc, text] :
       {CallAct<SelectiveStage, true>(short_of_grade), CallAct<SelectiveStage, false>(short_of_grade)}) {
    EXPECT_EQ(rc, BPM_PLUGIN_INTERNAL);
    EXPECT_EQ(text,
              "act hook threw an exception: variables.grade: the stage reads it but did not "
              "declare it for this state's config, so the host did not send it (declared: "
              "empty, submitted_by); add it to the stage's VariablesRead");
  }
  // An empty selection: nothing may be read.
  const auto [rc, text] = CallAct<SelectiveStage, true>(SelectedRequest({}));
  EXPECT_EQ(rc, BPM_PLUGIN_INTERNAL);
  EXPECT_NE(text.find("variables.submitted_by: the stage reads it but did not declare it"),
            std::string::npos) << text;
  EXPECT_NE(text.find("(declared: none)"), std::string::npos) << text;
  // Without a selection (every variable sent) the same stage reads them all.
  EXPECT_EQ((CallAct<SelectiveStage, true>(Request(ParseJson(kVariables)).SerializeAsString())),
            (Answer{BPM_PLUGIN_OK, "filer1 1 8 优"}));
}

class DeclaringStage : public ByNameStage {
 public:
  std::optional<std::vector<std::string>> VariablesRead(const Struct& config) const override {
    if (Field(config, "all") != nullptr) return std::nullopt;
    return std::vector<std::string>{"submitted_by", "grade"};
  }
};

class WholeDeclaringStage : public DeclaringStage {
 public:
  static constexpr bool kVariablesByName = false;
};

// What ValidateConfig answers: the stage's names plus every "${var.NAME}" of
// the config's templates as Substitute reads them, sorted and each once;
// nothing for a stage that reads any variable, or that reads
// context.variables() whole.
TEST(SdkVariablesTest, TheDeclarationAddsTheConfigsTemplates) {
  const Struct config = ParseJson(R"json({
    "title": "${var.project} 审核 (${var.grade})",
    "assignee": {"org": "${org}", "user": "${var.submitted_by}"},
    "levels": [{"user": "${var.level_head}"}, "${var.unclosed"],
    "odd": "${a${var.inner} is one template Substitute leaves as it is"})json");
  pb::ValidateConfigResponse resp;
  internal::DeclareVariables(DeclaringStage(), config, &resp);
  ASSERT_TRUE(resp.has_variables());
  EXPECT_EQ(std::vector<std::string>(resp.variables().names().begin(),
                                     resp.variables().names().end()),
            (std::vector<std::string>{"grade", "level_head", "project", "submitted_by"}));

  pb::ValidateConfigResponse any;
  internal::DeclareVariables(DeclaringStage(), ParseJson(R"({"all": true})"), &any);
  EXPECT_FALSE(any.has_variables());
  pb::ValidateConfigResponse whole;
  internal::DeclareVariables(WholeDeclaringStage(), config, &whole);
  EXPECT_FALSE(whole.has_variables());
  // A config with errors declares nothing (it is refused anyway).
  pb::ValidateConfigResponse refused;
  refused.add_errors()->set_message("bad");
  internal::DeclareVariables(DeclaringStage(), config, &refused);
  EXPECT_FALSE(refused.has_variables());
}


// ---- Compiled configs (CompiledConfig) ----------------------------------------

// What a stage derives from its config; counts how often it was built.
struct Derived {
  static std::atomic<int> builds;
  std::string title;
  static Derived From(const Struct& config) {
    ++builds;
    return Derived{StringOr(config, "title", "") + " (derived)"};
  }
};
std::atomic<int> Derived::builds{0};

class CompilingStage : public ByNameStage {
 public:
  pb::Decision Act(const pb::ActRequest& request) const override {
    std::shared_ptr<const Derived> derived =
        CompiledConfig<Derived>(request.context().config(), &Derived::From);
    pb::Decision d = Accept();
    d.set_note(derived->title);
    return d;
  }
};

// The request as InProcessStage sends it: ConfigWire(config), then the
// request without its config.
std::string TwoPart(const std::string& title) {
  pb::ActRequest req = Request(ParseJson(kVariables));
  (*req.mutable_context()->mutable_config()->mutable_fields())["title"].set_string_value(title);
  const std::string prefix = ConfigWire(req.context().config());
  req.mutable_context()->clear_config();
  return prefix + req.SerializeAsString();
}

TEST(SdkCompiledConfigTest, BuiltOncePerCachedConfigAndSharedByConcurrentCalls) {
  const int before = Derived::builds;
  const std::string bytes = TwoPart("编译一次");
  EXPECT_EQ((CallAct<CompilingStage, true>(bytes)), (Answer{BPM_PLUGIN_OK, "编译一次 (derived)"}));
  EXPECT_EQ(Derived::builds - before, 1);
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        right += CallAct<CompilingStage, true>(bytes) == Answer{BPM_PLUGIN_OK, "编译一次 (derived)"};
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(right, 200);
  EXPECT_EQ(Derived::builds - before, 1);  // every later call used the first build
  EXPECT_EQ(internal::current_call.config, nullptr);  // nothing left behind

  // Another config is another entry, built for itself.
  EXPECT_EQ((CallAct<CompilingStage, true>(TwoPart("另一个"))),
            (Answer{BPM_PLUGIN_OK, "另一个 (derived)"}));
  EXPECT_EQ(Derived::builds - before, 2);
}

TEST(SdkCompiledConfigTest, AConfigNotFromTheCacheIsBuiltOnEachCall) {
  // A request with its config inline (no prefix): same answer, built anew.
  pb::ActRequest req = Request(ParseJson(kVariables));
  (*req.mutable_context()->mutable_config()->mutable_fields())["title"].set_string_value("内联");
  const std::string bytes = req.SerializeAsString();
  const int before = Derived::builds;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((CallAct<CompilingStage, true>(bytes)), (Answer{BPM_PLUGIN_OK, "内联 (derived)"}));
  }
  EXPECT_EQ(Derived::builds - before, 3);
  // Called outside any hook (a stage's own unit test): built, not cached.
  EXPECT_EQ(CompiledConfig<Derived>(req.context().config(), &Derived::From)->title,
            "内联 (derived)");
  EXPECT_EQ(Derived::builds - before, 4);
}

TEST(SdkCompiledConfigTest, AFailedBuildFailsTheHookAndIsNotKept) {
  struct Picky {
    static Picky From(const Struct& config) {
      if (StringOr(config, "title", "") == "坏") throw std::runtime_error("title 坏 is refused");
      return Picky{};
    }
  };
  class PickyStage : public ByNameStage {
   public:
    pb::Decision Act(const pb::ActRequest& request) const override {
      CompiledConfig<Picky>(request.context().config(), &Picky::From);
      return Accept();
    }
  };
  const Answer failed = CallAct<PickyStage, true>(TwoPart("坏"));
  EXPECT_EQ(failed.first, BPM_PLUGIN_INTERNAL);
  EXPECT_NE(failed.second.find("title 坏 is refused"), std::string::npos) << failed.second;
  EXPECT_EQ((CallAct<PickyStage, true>(TwoPart("坏"))).first, BPM_PLUGIN_INTERNAL);  // again
  EXPECT_EQ(internal::current_call.config, nullptr);
}

// Two types compiled from one config are kept apart.
TEST(SdkCompiledConfigTest, EachTypeHasItsOwnObject) {
  internal::ConfigEntry entry;
  (*entry.config.mutable_fields())["title"].set_string_value("两种");
  auto as_int = [](const Struct&) { return 7; };
  auto as_text = [](const Struct& c) { return StringOr(c, "title", ""); };
  std::shared_ptr<const int> n = entry.Compiled<int>(as_int);
  std::shared_ptr<const std::string> t = entry.Compiled<std::string>(as_text);
  EXPECT_EQ(*n, 7);
  EXPECT_EQ(*t, "两种");
  EXPECT_EQ(entry.Compiled<int>(as_int).get(), n.get());
  EXPECT_EQ(entry.Compiled<std::string>(as_text).get(), t.get());
}

}  // namespace
}  // namespace bpm::plugin
