// C++ SDK for bpm stage plugins.
//
// A plugin author derives from bpm::plugin::Stage, implements the hooks as
// pure functions of their request, and exports the class with one macro:
//
//   class ReviewStage : public bpm::plugin::Stage { ... };
//   BPM_PLUGIN_EXPORT(ReviewStage, "review", "1.0.0")
//
// The macro defines the single exported C symbol bpm_plugin_entry_v1 (see
// abi.h). Every hook is wrapped: requests are parsed from bytes, responses
// serialized to bytes, and every exception is caught at the boundary and
// returned as BPM_PLUGIN_INTERNAL with its message, so no exception ever
// crosses into the host. The macro also exports ABI 1.1's message hooks:
// when bpmd finds the plugin on its own copy of the message code it hands
// Enter, Act and OnTimer its request object and takes the decision object
// back (internal::CallMessageHook), with the same answers and failures.
//
// Thread safety: the host calls hooks concurrently on one shared Stage
// object, so hooks must be const and keep no mutable state. Treat a request
// as read-only: its context.config may be one Struct shared by concurrent
// calls (see internal::ConfigCache), so never serialize or modify it.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

#include "bpm/plugin/abi.h"
#include "bpm/plugin/message_library.h"
#include "bpm/plugin/v1/plugin.pb.h"
#include "google/protobuf/arena.h"

namespace bpm::plugin {

namespace pb = ::bpm::plugin::v1;
using ::google::protobuf::ListValue;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;

// The interface a stage implements. Default OnTimer stays in the state.
class Stage {
 public:
  // true in a derived class: its hooks read variables only through Vars()
  // and get them decoded on demand (see "Instance variables" below).
  static constexpr bool kVariablesByName = false;

  virtual ~Stage() = default;
  // Name, version, actions and outcomes. name/version must equal the ones
  // given to BPM_PLUGIN_EXPORT (the host checks). abi_major/abi_minor are
  // filled by the SDK (internal::WithAbi); leave them unset.
  virtual pb::DescribeResponse Describe() const = 0;
  // Appends one ConfigError per problem; none means the config is accepted.
  virtual void ValidateConfig(const Struct& config,
                              std::vector<pb::ConfigError>* errors) const = 0;
  virtual pb::Decision Enter(const pb::EnterRequest& request) const = 0;
  virtual pb::Decision Act(const pb::ActRequest& request) const = 0;
  virtual pb::Decision OnTimer(const pb::TimerRequest& request) const {
    (void)request;
    pb::Decision d;
    d.set_accepted(true);
    return d;
  }
  // The variables the hooks read under config (a config ValidateConfig
  // accepted), when the stage can say: the host then sends only these (see
  // "Instance variables"). Names in the config's "${var.NAME}" templates are
  // added by the SDK. std::nullopt, the default: any variable, so all are
  // sent. Consulted only for a stage with kVariablesByName.
  virtual std::optional<std::vector<std::string>> VariablesRead(const Struct& config) const {
    (void)config;
    return std::nullopt;
  }
};

// ---- Helpers for reading Struct values ------------------------------------
// Each takes a Struct or the instance's Variables (Vars(ctx) below).

// Returns the field or nullptr when absent.
inline const Value* Field(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

class Variables;
inline const Value* Field(const Variables& vars, const std::string& key);

template <typename Fields>
std::string StringOr(const Fields& s, const std::string& key, const std::string& fallback) {
  const Value* v = Field(s, key);
  return v != nullptr && v->kind_case() == Value::kStringValue ? v->string_value()
                                                                 : fallback;
}

template <typename Fields>
double NumberOr(const Fields& s, const std::string& key, double fallback) {
  const Value* v = Field(s, key);
  return v != nullptr && v->kind_case() == Value::kNumberValue ? v->number_value()
                                                                 : fallback;
}

// The number under key as an Int, truncated toward zero as static_cast would;
// fallback when absent, not a number, not finite, or outside Int's range,
// where the cast would be undefined. Use it, not static_cast<int>(NumberOr(..)),
// for any number a client or a stored row may have set.
template <typename Int = int64_t, typename Fields>
Int IntegerOr(const Fields& s, const std::string& key, Int fallback) {
  static_assert(std::is_integral_v<Int> && std::is_signed_v<Int>);
  const Value* v = Field(s, key);
  if (v == nullptr || v->kind_case() != Value::kNumberValue) return fallback;
  const double d = std::trunc(v->number_value());
  constexpr double kMin = static_cast<double>(std::numeric_limits<Int>::min());  // -2^k exactly
  if (!(d >= kMin && d < -kMin)) return fallback;  // NaN fails both
  return static_cast<Int>(d);
}

template <typename Fields>
bool BoolOr(const Fields& s, const std::string& key, bool fallback) {
  const Value* v = Field(s, key);
  return v != nullptr && v->kind_case() == Value::kBoolValue ? v->bool_value()
                                                               : fallback;
}

// Strings of a list field; non-string items are skipped.
template <typename Fields>
std::vector<std::string> StringList(const Fields& s, const std::string& key) {
  std::vector<std::string> out;
  const Value* v = Field(s, key);
  if (v == nullptr || v->kind_case() != Value::kListValue) return out;
  for (const Value& item : v->list_value().values()) {
    if (item.kind_case() == Value::kStringValue) out.push_back(item.string_value());
  }
  return out;
}

// The struct stored under key, or an empty Struct when absent or not a struct.
template <typename Fields>
Struct StructOr(const Fields& s, const std::string& key) {
  const Value* v = Field(s, key);
  return v != nullptr && v->kind_case() == Value::kStructValue ? v->struct_value()
                                                                 : Struct();
}

// ---- Instance variables ------------------------------------------------------
// Hooks read the instance's variables through Vars(request.context()), never
// through context.variables() directly:
//
//   const std::string by = StringOr(Vars(ctx), "submitted_by", "");
//
// A stage class exported with BPM_PLUGIN_EXPORT may declare
//
//   static constexpr bool kVariablesByName = true;
//
// Its hooks then get their request with context.variables left empty, and
// Vars() decodes a variable from the request's bytes the first time it is
// read: a stage that reads two variables no longer decodes the whole filed
// form on every call. Without the declaration (the default, for stages that
// still read context.variables()) the request is decoded whole and Vars()
// reads from it. Either way the answers are the same.
//
// Vars() must be given the context of the request the hook was called with,
// not a copy of it: with kVariablesByName a copy has no variables, so Vars()
// throws std::logic_error for one (the hook fails with its message).
//
// Such a stage may also say which variables it reads (Stage::VariablesRead,
// per config): a review step that reads "submitted_by" then no longer gets
// the whole filed form on every call. The host marks the context it sends
// with those names (StageContext.variables_selected), and reading any other
// variable throws std::logic_error naming it: a short declaration fails the
// hook loudly instead of reading as an absent variable. All() then holds the
// declared variables only.
// Thread safety: a Variables belongs to the hook call that made it.

namespace internal {

// Reads a protobuf varint at *p (below end); false when malformed.
inline bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const uint8_t b = *p++;
    *v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

inline void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// One field of encoded protobuf: its number, wire type and bytes. For
// length-delimited fields (wire type 2) payload is what follows the length.
struct WireField {
  uint64_t number = 0;
  uint32_t type = 0;
  std::string_view whole;    // tag, length and value
  std::string_view payload;  // wire type 2 only
};

// Reads the field starting at *p and moves *p past it; false when the bytes
// are malformed. A group (wire type 3, none of the plugin messages has one)
// is skipped whole, as a parse keeps it among the unknown fields.
inline bool NextField(const uint8_t*& p, const uint8_t* end, WireField* f, int depth = 0) {
  const uint8_t* start = p;
  uint64_t tag = 0, n = 0;
  if (!ReadVarint(p, end, &tag)) return false;
  f->number = tag >> 3;
  f->type = static_cast<uint32_t>(tag & 7);
  if (f->number == 0) return false;
  switch (f->type) {
    case 0:
      if (!ReadVarint(p, end, &n)) return false;
      break;
    case 1:
    case 5: {
      const size_t size = f->type == 1 ? 8 : 4;
      if (static_cast<size_t>(end - p) < size) return false;
      p += size;
      break;
    }
    case 2:
      if (!ReadVarint(p, end, &n) || n > static_cast<uint64_t>(end - p)) return false;
      f->payload = std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
      p += n;
      break;
    case 3: {
      if (depth >= 100) return false;  // protobuf's own nesting limit
      WireField inner;
      for (;;) {
        const uint8_t* q = p;
        uint64_t inner_tag = 0;
        if (!ReadVarint(q, end, &inner_tag)) return false;
        if ((inner_tag & 7) == 4) {  // an end-group: it must close this group
          if ((inner_tag >> 3) != f->number) return false;
          p = q;
          break;
        }
        if (!NextField(p, end, &inner, depth + 1)) return false;
      }
      break;
    }
    default:
      return false;
  }
  f->whole = std::string_view(reinterpret_cast<const char*>(start), static_cast<size_t>(p - start));
  return true;
}

inline const uint8_t* Bytes(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

// The variables of one hook call, kept encoded until read. Values point into
// the request's bytes, which outlive the call; decoded values live on the
// call's arena.
class LazyVariables {
 public:
  explicit LazyVariables(google::protobuf::Arena* arena) : arena_(arena) {}
  LazyVariables(const LazyVariables&) = delete;
  LazyVariables& operator=(const LazyVariables&) = delete;

  // Adds the entries of one encoded google.protobuf.Struct (a message field
  // may come in several chunks; a later entry of a key wins, as in a parse).
  // False when the bytes are not a Struct's.
  bool AddEncoded(std::string_view bytes) {
    const uint8_t* p = Bytes(bytes);
    const uint8_t* end = p + bytes.size();
    WireField entry, f;
    while (p != end) {
      if (!NextField(p, end, &entry)) return false;
      if (entry.number != 1 || entry.type != 2) continue;  // unknown to a Struct
      std::string_view key, value;
      const uint8_t* q = Bytes(entry.payload);
      const uint8_t* entry_end = q + entry.payload.size();
      while (q != entry_end) {
        if (!NextField(q, entry_end, &f)) return false;
        // Anything else (another field, or a wire type that does not fit)
        // is an unknown field to a parse, so it is skipped here too.
        if (f.number == 1 && f.type == 2) key = f.payload;
        if (f.number == 2 && f.type == 2) value = f.payload;
      }
      Entry* existing = FindEntry(key);
      if (existing != nullptr) {
        *existing = Entry{key, value, nullptr};
        continue;
      }
      entries_.push_back(Entry{key, value, nullptr});
      if (!index_.empty()) {
        index_.emplace(key, entries_.size() - 1);
      } else if (entries_.size() > kScanLimit) {
        for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].key, i);
      }
    }
    return true;
  }

  // Forgets every entry (before the bytes are parsed again).
  void Clear() {
    entries_.clear();
    index_.clear();
    all_ = nullptr;
    owner = nullptr;
  }

  // The variable named name, decoded on first use; nullptr when absent.
  // Throws std::runtime_error when its bytes are not a Value.
  const Value* Find(std::string_view name) {
    if (all_ != nullptr) return Field(*all_, std::string(name));
    Entry* e = FindEntry(name);
    if (e == nullptr) return nullptr;
    if (e->parsed == nullptr) {
      Value* v = google::protobuf::Arena::CreateMessage<Value>(arena_);
      if (!v->ParseFromArray(e->value.data(), static_cast<int>(e->value.size()))) {
        throw NotAValue(name);
      }
      e->parsed = v;
    }
    return e->parsed;
  }

  // Every variable, decoded.
  const Struct& All() {
    if (all_ != nullptr) return *all_;
    Struct* all = google::protobuf::Arena::CreateMessage<Struct>(arena_);
    for (const Entry& e : entries_) {
      Value& slot = (*all->mutable_fields())[std::string(e.key)];
      if (e.parsed != nullptr) {
        slot = *e.parsed;
      } else if (!slot.ParseFromArray(e.value.data(), static_cast<int>(e.value.size()))) {
        throw NotAValue(e.key);
      }
    }
    all_ = all;
    return *all_;
  }

  // The context whose variables these are, set once it is parsed; nullptr
  // when the request has no context (so no variables).
  const pb::StageContext* owner = nullptr;

 private:
  static std::runtime_error NotAValue(std::string_view name) {
    return std::runtime_error("variables." + std::string(name) +
                              ": not a valid google.protobuf.Value");
  }
  struct Entry {
    std::string_view key;
    std::string_view value;
    Value* parsed;
  };
  // Instances have a handful of variables, scanned in order; past
  // kScanLimit (a client may start one with many) they are indexed, so that
  // reading stays linear in their number.
  static constexpr size_t kScanLimit = 32;
  Entry* FindEntry(std::string_view key) {
    if (!index_.empty()) {
      auto it = index_.find(key);
      return it == index_.end() ? nullptr : &entries_[it->second];
    }
    for (Entry& e : entries_) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }

  google::protobuf::Arena* arena_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string_view, size_t> index_;  // empty up to kScanLimit
  Struct* all_ = nullptr;
};

class ConfigEntry;

// The hook call running on this thread: its variables when they are read
// lazily, its config when it came from the ConfigCache; null outside a call,
// or when not. Each plugin has its own (plugins are built with hidden
// visibility). Static TLS (initial-exec): glibc keeps a reserve for the
// modules dlopen loads, so no thread allocates a block for it on first use
// and frees it at exit (those blocks come from the loader's own malloc, which
// ThreadSanitizer reports as racing). A plugin that finds no room fails to
// load, saying so.
struct CurrentCall {
  LazyVariables* variables = nullptr;
  const ConfigEntry* config = nullptr;
};
inline thread_local CurrentCall current_call __attribute__((tls_model("initial-exec")));

// A unique address per type T (no RTTI needed). Not const, so that no
// compiler or linker folds two of them into one.
template <typename T>
struct TypeKey {
  static inline char id = 0;
};

// One config the ConfigCache holds, and what stages compiled from it
// (CompiledConfig). Thread-safe: config is immutable once cached; the
// compiled objects are added under a lock and never change afterwards.
class ConfigEntry {
 public:
  Struct config;

  // The T built from config, building it with build(config) on the first
  // call for T. If two calls race, both build and the first to finish is
  // kept (build runs outside the lock, so it may itself use CompiledConfig).
  template <typename T, typename Build>
  std::shared_ptr<const T> Compiled(Build& build) const {
    const void* key = &TypeKey<T>::id;
    if (auto found = Find(key)) return std::static_pointer_cast<const T>(found);
    std::shared_ptr<const T> built = std::make_shared<T>(build(config));
    return std::static_pointer_cast<const T>(Keep(key, std::move(built)));
  }

 private:
  std::shared_ptr<const void> Find(const void* key) const {
    std::lock_guard<std::mutex> lock(mu_);
    return FindLocked(key);
  }
  // object, or the one another call kept for key first.
  std::shared_ptr<const void> Keep(const void* key, std::shared_ptr<const void> object) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto kept = FindLocked(key)) return kept;
    compiled_.emplace_back(key, object);
    return object;
  }
  std::shared_ptr<const void> FindLocked(const void* key) const {
    for (const auto& [k, object] : compiled_) {
      if (k == key) return object;
    }
    return nullptr;
  }

  mutable std::mutex mu_;
  mutable std::vector<std::pair<const void*, std::shared_ptr<const void>>> compiled_;
};

}  // namespace internal

// ---- Compiled configs ----------------------------------------------------------
// A stage that derives something from its config on every call (a form's
// field rules, parsed thresholds) can derive it once per config instead:
//
//   std::shared_ptr<const FormRules> rules =
//       CompiledConfig<FormRules>(request.context().config(), &FormRules::From);
//
// returns what build(config) returned, built on the first call for a config
// the host sent the usual way (the SDK caches each state's config: see
// internal::ConfigCache) and shared, read-only, by every later call with the
// same config, concurrent ones included. Any other config (a request without
// the host's config prefix, a ValidateConfig call, a test) is built on each
// call, so the result is the same either way. T must not change once built,
// and build must depend only on config: the host re-sends a config whenever it
// changes, and a changed config is another entry. Exceptions from build
// propagate (the hook fails; nothing is cached).
template <typename T, typename Build>
std::shared_ptr<const T> CompiledConfig(const Struct& config, Build&& build) {
  const internal::ConfigEntry* entry = internal::current_call.config;
  if (entry != nullptr && &entry->config == &config) return entry->Compiled<T>(build);
  return std::make_shared<T>(build(config));
}

// The variables of a hook's context: see "Instance variables" above.
class Variables {
 public:
  // The variable named name, or nullptr when the instance has none. Throws
  // std::logic_error when the host sent a selection without it (see above).
  const Value* Find(const std::string& name) const {
    if (selected_ != nullptr) CheckSelected(name);
    return lazy_ != nullptr ? lazy_->Find(name) : Field(*whole_, name);
  }
  // Every variable (with kVariablesByName this decodes them all: read single
  // variables with Find where you can); with a selection, the selected ones.
  const Struct& All() const { return lazy_ != nullptr ? lazy_->All() : *whole_; }

 private:
  friend Variables Vars(const pb::StageContext& ctx);
  Variables(const Struct* whole, internal::LazyVariables* lazy,
            const pb::VariableSelection* selected)
      : whole_(whole), lazy_(lazy), selected_(selected) {}
  void CheckSelected(const std::string& name) const {
    const auto& names = selected_->names();
    if (std::find(names.begin(), names.end(), name) != names.end()) return;
    std::string declared;
    for (const std::string& n : names) declared += (declared.empty() ? "" : ", ") + n;
    throw std::logic_error("variables." + name +
                           ": the stage reads it but did not declare it for this state's "
                           "config, so the host did not send it (declared: " +
                           (declared.empty() ? "none" : declared) +
                           "); add it to the stage's VariablesRead");
  }
  const Struct* whole_;
  internal::LazyVariables* lazy_;
  const pb::VariableSelection* selected_;  // nullptr: every variable was sent
};

inline Variables Vars(const pb::StageContext& ctx) {
  const pb::VariableSelection* selected =
      ctx.has_variables_selected() ? &ctx.variables_selected() : nullptr;
  internal::LazyVariables* lazy = internal::current_call.variables;
  if (lazy == nullptr) return Variables(&ctx.variables(), nullptr, selected);
  if (lazy->owner != nullptr && lazy->owner != &ctx) {
    throw std::logic_error(
        "Vars() was given a StageContext that is not the request's own (a copy?): the "
        "stage reads its variables by name (kVariablesByName), so pass request.context()");
  }
  return Variables(nullptr, lazy, selected);
}

inline const Value* Field(const Variables& vars, const std::string& key) {
  return vars.Find(key);
}

inline Value StringValue(const std::string& s) {
  Value v;
  v.set_string_value(s);
  return v;
}

inline Value NumberValue(double n) {
  Value v;
  v.set_number_value(n);
  return v;
}

// The template syntax of Substitute: calls fn(from, open, close, name) for
// each "${name}" of text in order, where text[from, open) is the plain text
// before it and text[open, close] the template. Returns where the plain text
// after the last template begins.
template <typename Fn>
size_t ForEachTemplate(const std::string& text, Fn&& fn) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find("${", i);
    if (open == std::string::npos) break;
    const size_t close = text.find('}', open);
    if (close == std::string::npos) break;
    fn(i, open, close, text.substr(open + 2, close - open - 2));
    i = close + 1;
  }
  return i;
}

// Replaces ${org}, ${subject} and ${var.NAME} (string variables) in text.
inline std::string Substitute(const std::string& text, const pb::StageContext& ctx) {
  std::string out;
  const size_t rest = ForEachTemplate(
      text, [&](size_t from, size_t open, size_t close, const std::string& name) {
        out.append(text, from, open - from);
        if (name == "org") {
          out += ctx.org();
        } else if (name == "subject") {
          out += ctx.subject_ref();
        } else if (name.rfind("var.", 0) == 0) {
          out += StringOr(Vars(ctx), name.substr(4), "");
        } else {
          out.append(text, open, close - open + 1);
        }
      });
  out.append(text, rest, std::string::npos);
  return out;
}

// ---- Canonical JSON ----------------------------------------------------------
// Deterministic JSON text of a Value/Struct: object keys sorted bytewise, no
// spaces, integral numbers without a fraction, strings escaped minimally
// (UTF-8 kept as is). Used for content hashes, so the output must never change.
// Exact format: integral doubles of magnitude below 2^53 as integers ("-3",
// "0" for -0), other finite numbers as printf's %.17g ("0.10000000000000001",
// "1e+300"), NaN and infinities as null; in strings '"' '\\' \n \r \t get a
// backslash, other bytes below 0x20 become \u00XX (lowercase hex), all
// others (0x7f and UTF-8 included) are copied. Runs hot (every commit hashes
// its data): plain bytes are copied in runs and numbers printed with
// std::to_chars, which gives the same bytes as printf.

inline void AppendCanonicalJson(const Value& v, std::string* out);

inline void AppendJsonString(const std::string& s, std::string* out) {
  static const char* kHex = "0123456789abcdef";
  out->push_back('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  const char* run = p;
  for (; p != end; ++p) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(run, static_cast<size_t>(p - run));
    run = p + 1;
    switch (c) {
      case '"': out->append("\\\"", 2); break;
      case '\\': out->append("\\\\", 2); break;
      case '\n': out->append("\\n", 2); break;
      case '\r': out->append("\\r", 2); break;
      case '\t': out->append("\\t", 2); break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(esc, 6);
      }
    }
  }
  out->append(run, static_cast<size_t>(p - run));
  out->push_back('"');
}

// A number as described above.
inline void AppendCanonicalNumber(double d, std::string* out) {
  char buf[40];
  if (!std::isfinite(d)) {
    out->append("null", 4);
  } else if (d == std::floor(d) && std::fabs(d) < 9.007199254740992e15) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(d));
    out->append(buf, static_cast<size_t>(r.ptr - buf));
  } else {
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
    // Same bytes as %.17g (the standard defines it as printf's conversion).
    auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::general, 17);
    out->append(buf, static_cast<size_t>(r.ptr - buf));
#else
    int n = std::snprintf(buf, sizeof buf, "%.17g", d);
    out->append(buf, static_cast<size_t>(n));
#endif
  }
}

inline void AppendCanonicalJson(const Struct& s, std::string* out) {
  const auto& fields = s.fields();
  if (fields.empty()) {
    out->append("{}", 2);
    return;
  }
  using Entry = std::pair<const std::string*, const Value*>;
  std::vector<Entry> entries;
  entries.reserve(fields.size());
  for (const auto& kv : fields) entries.emplace_back(&kv.first, &kv.second);
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return *a.first < *b.first; });
  out->push_back('{');
  bool first = true;
  for (const Entry& e : entries) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(*e.first, out);
    out->push_back(':');
    AppendCanonicalJson(*e.second, out);
  }
  out->push_back('}');
}

inline void AppendCanonicalJson(const Value& v, std::string* out) {
  switch (v.kind_case()) {
    case Value::kNullValue:
    case Value::KIND_NOT_SET:
      out->append("null", 4);
      break;
    case Value::kBoolValue:
      if (v.bool_value()) {
        out->append("true", 4);
      } else {
        out->append("false", 5);
      }
      break;
    case Value::kNumberValue:
      AppendCanonicalNumber(v.number_value(), out);
      break;
    case Value::kStringValue:
      AppendJsonString(v.string_value(), out);
      break;
    case Value::kStructValue:
      AppendCanonicalJson(v.struct_value(), out);
      break;
    case Value::kListValue: {
      out->push_back('[');
      bool first = true;
      for (const Value& item : v.list_value().values()) {
        if (!first) out->push_back(',');
        first = false;
        AppendCanonicalJson(item, out);
      }
      out->push_back(']');
      break;
    }
  }
}

inline std::string CanonicalJson(const Struct& s) {
  std::string out;
  out.reserve(256);
  AppendCanonicalJson(s, &out);
  return out;
}

// ---- Helpers for building decisions ----------------------------------------

inline pb::Decision Accept(const std::string& outcome = "") {
  pb::Decision d;
  d.set_accepted(true);
  d.set_outcome(outcome);
  return d;
}

inline pb::Decision Reject(const std::string& field, const std::string& message) {
  pb::Decision d;
  d.set_accepted(false);
  pb::Rejection* r = d.add_rejections();
  r->set_field(field);
  r->set_message(message);
  return d;
}

inline void AddError(std::vector<pb::ConfigError>* errors, const std::string& path,
                     const std::string& message, const std::string& hint = "") {
  pb::ConfigError e;
  e.set_path(path);
  e.set_message(message);
  e.set_hint(hint);
  errors->push_back(std::move(e));
}

inline void AddAction(pb::DescribeResponse* d, const std::string& name,
                      const std::string& description) {
  pb::ActionSpec* a = d->add_actions();
  a->set_name(name);
  a->set_description(description);
}

// ---- More value helpers -------------------------------------------------------

inline Value BoolValue(bool b) {
  Value v;
  v.set_bool_value(b);
  return v;
}

inline Value StructValue(const Struct& s) {
  Value v;
  *v.mutable_struct_value() = s;
  return v;
}

// Takes s without copying it (a Struct copy allocates every key and value).
inline Value StructValue(Struct&& s) {
  Value v;
  v.mutable_struct_value()->Swap(&s);
  return v;
}

inline Value StringListValue(const std::vector<std::string>& items) {
  Value v;
  ListValue* list = v.mutable_list_value();
  for (const std::string& s : items) *list->add_values() = StringValue(s);
  return v;
}

// True for finite numbers without a fraction.
inline bool IsInteger(double d) { return std::isfinite(d) && d == std::floor(d); }

// Numbers for messages: integers without a fraction ("30"), others as %g.
inline std::string FormatNumber(double d) {
  char buf[40];
  if (IsInteger(d) && std::fabs(d) < 9.007199254740992e15) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
  } else {
    std::snprintf(buf, sizeof buf, "%g", d);
  }
  return buf;
}

inline std::string JoinStrings(const std::vector<std::string>& items,
                               const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

// Strips ASCII whitespace and the ideographic space U+3000 from both ends, so
// a comment of only "　" (common with Chinese input methods) counts as empty.
inline std::string Trim(const std::string& s) {
  static const std::string kIdeographicSpace = "\xE3\x80\x80";
  auto ascii_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
  };
  size_t begin = 0;
  size_t end = s.size();
  while (begin < end) {
    if (ascii_space(s[begin])) {
      ++begin;
    } else if (end - begin >= 3 && s.compare(begin, 3, kIdeographicSpace) == 0) {
      begin += 3;
    } else {
      break;
    }
  }
  while (begin < end) {
    if (ascii_space(s[end - 1])) {
      --end;
    } else if (end - begin >= 3 && s.compare(end - 3, 3, kIdeographicSpace) == 0) {
      end -= 3;
    } else {
      break;
    }
  }
  return s.substr(begin, end - begin);
}

// Number of characters (UTF-8 code points) of s, for length limits that
// count 汉字 as one character each.
inline size_t Utf8Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

// ---- Paths ------------------------------------------------------------------
// Config errors and rejections name their place with dotted paths and list
// indexes: "form.fields[2].type", "payload.indicators[1].weight".

inline std::string JoinPath(const std::string& base, const std::string& key) {
  return base.empty() ? key : base + "." + key;
}

inline std::string IndexPath(const std::string& base, int index) {
  return base + "[" + std::to_string(index) + "]";
}

// Keys of s that are not in allowed, sorted (Struct maps have no order, and
// messages must be deterministic).
inline std::vector<std::string> UnknownKeys(const Struct& s,
                                            const std::vector<std::string>& allowed) {
  std::vector<std::string> out;
  for (const auto& kv : s.fields()) {
    if (std::find(allowed.begin(), allowed.end(), kv.first) == allowed.end()) {
      out.push_back(kv.first);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// "a string", "a number", ... for messages about a Value's kind.
inline const char* KindName(Value::KindCase kind) {
  switch (kind) {
    case Value::kStringValue: return "a string";
    case Value::kNumberValue: return "a number";
    case Value::kBoolValue: return "a boolean (true or false)";
    case Value::kStructValue: return "a mapping";
    case Value::kListValue: return "a list";
    case Value::kNullValue: return "null";
    case Value::KIND_NOT_SET: break;
  }
  return "empty";
}

// ---- Config validation ---------------------------------------------------------
// All take the path of the enclosing mapping (base, "" at the top) and append
// ConfigErrors at JoinPath(base, key).

// One error per key of s outside allowed: "unknown key; allowed keys: a, b".
inline void CheckKnownKeys(const Struct& s, const std::string& base,
                           const std::vector<std::string>& allowed,
                           std::vector<pb::ConfigError>* errors) {
  for (const std::string& key : UnknownKeys(s, allowed)) {
    AddError(errors, JoinPath(base, key),
             "unknown key; allowed keys are: " + JoinStrings(allowed, ", ") + ".");
  }
}

// The value of key when present and of the expected kind; nullptr when absent
// (no error) or of another kind (error "must be a string.", etc.).
inline const Value* TypedField(const Struct& s, const std::string& key,
                               Value::KindCase kind, const std::string& base,
                               std::vector<pb::ConfigError>* errors) {
  const Value* v = Field(s, key);
  if (v == nullptr) return nullptr;
  if (v->kind_case() != kind) {
    AddError(errors, JoinPath(base, key), std::string("must be ") + KindName(kind) + ".");
    return nullptr;
  }
  return v;
}

// A non-empty string when present.
inline void CheckNonEmptyString(const Struct& s, const std::string& key,
                                const std::string& base,
                                std::vector<pb::ConfigError>* errors) {
  const Value* v = TypedField(s, key, Value::kStringValue, base, errors);
  if (v != nullptr && Trim(v->string_value()).empty()) {
    AddError(errors, JoinPath(base, key), "must not be empty.");
  }
}

// An integer within [min, max] when present.
inline void CheckIntegerInRange(const Struct& s, const std::string& key,
                                const std::string& base, double min, double max,
                                std::vector<pb::ConfigError>* errors) {
  const Value* v = TypedField(s, key, Value::kNumberValue, base, errors);
  if (v == nullptr) return;
  double d = v->number_value();
  if (!IsInteger(d) || d < min || d > max) {
    AddError(errors, JoinPath(base, key),
             "must be a whole number from " + FormatNumber(min) + " to " +
                 FormatNumber(max) + ".");
  }
}

// A list of non-empty, distinct strings when present; non_empty also forbids [].
inline void CheckStringList(const Struct& s, const std::string& key, const std::string& base,
                            bool non_empty, std::vector<pb::ConfigError>* errors) {
  const Value* v = TypedField(s, key, Value::kListValue, base, errors);
  if (v == nullptr) return;
  const std::string path = JoinPath(base, key);
  if (non_empty && v->list_value().values_size() == 0) {
    AddError(errors, path, "must list at least one item.");
  }
  std::vector<std::string> seen;
  for (int i = 0; i < v->list_value().values_size(); ++i) {
    const Value& item = v->list_value().values(i);
    if (item.kind_case() != Value::kStringValue || item.string_value().empty()) {
      AddError(errors, IndexPath(path, i), "must be a non-empty string.");
    } else if (std::find(seen.begin(), seen.end(), item.string_value()) != seen.end()) {
      AddError(errors, IndexPath(path, i),
               "repeats \"" + item.string_value() + "\"; items must be distinct.");
    } else {
      seen.push_back(item.string_value());
    }
  }
}

// ---- Assignees ----------------------------------------------------------------
// Every bundled stage says who gets its tasks with a mapping in its config:
//
//   assignee: {role: unit_filer, org: "${org}"}   # holders of a role in an org
//   assignee: {role: authority_reviewer}          # holders of a role, any org
//   assignee: {user: zhang.san}                   # one person
//
// All keys are optional; each absent key keeps the stage's default. `user`
// names one person and cannot be combined with role or org (a configured user
// drops the default role/org). org "" means any org. org and user go through
// Substitute(), so "${org}" is the instance's owning org.

struct Assignee {
  std::string role;
  std::string org;
  std::string user;
};

// Validates config[key] as an assignee mapping; absent is fine.
inline void ValidateAssignee(const Struct& config, const std::string& key,
                             std::vector<pb::ConfigError>* errors) {
  const Value* v = TypedField(config, key, Value::kStructValue, "", errors);
  if (v == nullptr) return;
  const Struct& a = v->struct_value();
  CheckKnownKeys(a, key, {"role", "org", "user"}, errors);
  CheckNonEmptyString(a, "role", key, errors);
  TypedField(a, "org", Value::kStringValue, key, errors);
  CheckNonEmptyString(a, "user", key, errors);
  if (Field(a, "user") != nullptr && (Field(a, "role") != nullptr || Field(a, "org") != nullptr)) {
    AddError(errors, JoinPath(key, "user"),
             "names one person and cannot be combined with role or org.");
  }
}

// config[key] laid over defaults, with ${...} substituted in org and user.
inline Assignee ResolveAssignee(const pb::StageContext& ctx, const std::string& key,
                                const Assignee& defaults) {
  Assignee out = defaults;
  const Value* v = Field(ctx.config(), key);
  if (v != nullptr && v->kind_case() == Value::kStructValue) {
    const Struct& a = v->struct_value();
    if (Field(a, "user") != nullptr) out = Assignee{};
    out.role = StringOr(a, "role", out.role);
    out.org = StringOr(a, "org", out.org);
    out.user = StringOr(a, "user", out.user);
  }
  out.org = Substitute(out.org, ctx);
  out.user = Substitute(out.user, ctx);
  return out;
}

// A task for who, offering actions; due_unix_ms 0 means no due date.
inline pb::TaskSpec MakeTask(const std::string& name, const std::string& title,
                             const Assignee& who, const std::vector<std::string>& actions,
                             int64_t due_unix_ms = 0) {
  pb::TaskSpec t;
  t.set_name(name);
  t.set_title(title);
  if (!who.user.empty()) {
    t.set_assignee_user(who.user);
  } else {
    t.set_assignee_role(who.role);
    t.set_assignee_org(who.org);
  }
  for (const std::string& a : actions) t.add_actions(a);
  t.set_due_unix_ms(due_unix_ms);
  return t;
}

// ---- Rejections ----------------------------------------------------------------
// Act hooks collect every problem with a request before refusing it:
//
//   pb::Decision bad;            // accepted == false until proven otherwise
//   RejectUnknownFields(req.payload(), "payload", {"grade"}, &bad);
//   ...
//   if (bad.rejections_size() > 0) return bad;

inline void AddRejection(pb::Decision* d, const std::string& field,
                         const std::string& message) {
  d->set_accepted(false);
  pb::Rejection* r = d->add_rejections();
  r->set_field(field);
  r->set_message(message);
}

// "<base>.<key>: unknown field (未知字段)" for every key outside allowed.
inline void RejectUnknownFields(const Struct& s, const std::string& base,
                                const std::vector<std::string>& allowed, pb::Decision* d) {
  for (const std::string& key : UnknownKeys(s, allowed)) {
    AddRejection(d, JoinPath(base, key), "unknown field (未知字段)");
  }
}

// A Rejection for a request whose task or action this stage does not know
// (the engine checks actions against the task, so this means a mismatch
// between definition and plugin).
inline pb::Decision RejectUnknownAction(const pb::ActRequest& request) {
  return Reject("action", "task '" + request.task().name() + "' of this stage has no action '" +
                              request.action() + "'");
}

namespace internal {

inline int WriteOut(const std::string& bytes, uint8_t** out, size_t* out_len) {
  *out = nullptr;
  *out_len = 0;
  if (bytes.empty()) return 0;
  auto* buf = static_cast<uint8_t*>(std::malloc(bytes.size()));
  if (buf == nullptr) return -1;
  std::memcpy(buf, bytes.data(), bytes.size());
  *out = buf;
  *out_len = bytes.size();
  return 0;
}

inline int Fail(int code, const std::string& message, uint8_t** out, size_t* out_len) {
  WriteOut(message, out, out_len);
  return code;
}

// A state's config arrives unchanged in front of every request for that
// state: the host sends a request holding only context.config (ConfigWire in
// core/plugin/stage.h) followed by the request without it, which protobuf
// parses as one merged message. The cache keeps the Struct parsed from those
// bytes (with what stages compiled from it: CompiledConfig), so each config is
// parsed once per plugin, not once per call. The entries are shared read-only
// by concurrent calls. Bounded: it is emptied when it holds too many (configs
// are few: one per state of each workflow version); calls holding an entry
// keep it until they finish.
class ConfigCache {
 public:
  // The config of `request` when it starts with a config prefix, and in
  // *rest the bytes after it; nullptr (and rest untouched) when it does not,
  // or the config does not parse.
  std::shared_ptr<const ConfigEntry> Split(const uint8_t* request, size_t len,
                                           std::string_view* rest) {
    const uint8_t* p = request;
    const uint8_t* end = request + len;
    uint64_t context_len = 0, config_len = 0;
    if (p == end || *p++ != 0x0A || !ReadVarint(p, end, &context_len)) return nullptr;
    if (context_len > static_cast<uint64_t>(end - p)) return nullptr;  // before p + it
    const uint8_t* context_end = p + context_len;
    if (p == context_end || *p++ != 0x42 || !ReadVarint(p, context_end, &config_len)) {
      return nullptr;
    }
    if (config_len != static_cast<uint64_t>(context_end - p)) return nullptr;  // more than config
    std::string key(reinterpret_cast<const char*>(p), config_len);
    std::shared_ptr<const ConfigEntry> config;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = parsed_.find(key);
      if (it != parsed_.end()) config = it->second;
    }
    if (config == nullptr) {
      auto fresh = std::make_shared<ConfigEntry>();
      if (!fresh->config.ParseFromString(key)) return nullptr;
      config = fresh;
      std::lock_guard<std::mutex> lock(mu_);
      if (parsed_.size() >= kMaxEntries) parsed_.clear();
      parsed_.emplace(std::move(key), config);
    }
    *rest = std::string_view(reinterpret_cast<const char*>(context_end),
                             static_cast<size_t>(end - context_end));
    return config;
  }

 private:
  static constexpr size_t kMaxEntries = 1024;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const ConfigEntry>> parsed_;
};

// One per plugin. An object, not a leaked pointer: the host may dlclose the
// plugin (no hook runs after that), which destroys it with the plugin's other
// statics.
inline ConfigCache& Configs() {
  static ConfigCache cache;
  return cache;
}

// Whether Req carries a StageContext (every hook but describe and
// validate_config).
template <typename Req>
constexpr bool kHasContext = !std::is_same_v<Req, pb::DescribeRequest> &&
                             !std::is_same_v<Req, pb::ValidateConfigRequest>;

// Parses bytes into *req. With vars (a stage with kVariablesByName), the
// variables (field 7 of the StageContext in field 1) are cut out of the bytes
// undecoded and handed to vars; the rest is parsed. False when the bytes are
// not a Req.
template <typename Req>
bool ParseBody(std::string_view bytes, Req* req, LazyVariables* vars) {
  if constexpr (kHasContext<Req>) {
    if (vars != nullptr) {
      std::string body;  // bytes without the variables
      body.reserve(bytes.size());
      const uint8_t* p = Bytes(bytes);
      const uint8_t* end = p + bytes.size();
      WireField f, g;
      while (p != end) {
        if (!NextField(p, end, &f)) return false;
        if (f.number != 1 || f.type != 2) {
          body.append(f.whole);
          continue;
        }
        std::string context;
        const uint8_t* q = Bytes(f.payload);
        const uint8_t* context_end = q + f.payload.size();
        while (q != context_end) {
          if (!NextField(q, context_end, &g)) return false;
          if (g.number == 7 && g.type == 2) {
            if (!vars->AddEncoded(g.payload)) return false;
          } else {
            context.append(g.whole);
          }
        }
        body.push_back(0x0A);  // field 1, length-delimited
        AppendVarint(context.size(), &body);
        body.append(context);
      }
      if (!req->ParseFromArray(body.data(), static_cast<int>(body.size()))) return false;
      vars->owner = req->has_context() ? &req->context() : nullptr;
      return true;
    }
  }
  return req->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

// Parses a request into *req; with a config prefix (ConfigCache) the config
// comes from the cache in *config and the rest is parsed. vars: as in
// ParseBody (nullptr: decode the variables too). False when the bytes are not
// a Req.
template <typename Req>
bool ParseRequest(const uint8_t* request, size_t len, Req* req,
                  std::shared_ptr<const ConfigEntry>* config, LazyVariables* vars) {
  const std::string_view whole(reinterpret_cast<const char*>(request), len);
  if constexpr (kHasContext<Req>) {
    std::string_view rest;
    *config = Configs().Split(request, len, &rest);
    if (*config != nullptr) {
      if (ParseBody(rest, req, vars) && !req->context().has_config()) return true;
      // Not the host's two-part form after all (the rest carries a config of
      // its own to merge, or does not parse): parse it whole.
      config->reset();
      req->Clear();
      if (vars != nullptr) vars->Clear();
    }
  }
  return ParseBody(whole, req, vars);
}

// Makes vars the variables Vars() reads on this thread for one hook call.
class VariablesScope {
 public:
  explicit VariablesScope(LazyVariables* vars) { current_call.variables = vars; }
  ~VariablesScope() { current_call.variables = nullptr; }
  VariablesScope(const VariablesScope&) = delete;
  VariablesScope& operator=(const VariablesScope&) = delete;
};

// Lends a cached config to req.context for the call and takes it back before
// the request's arena goes (the arena never owns it).
template <typename Req>
class ConfigLease {
 public:
  ConfigLease(Req& req, std::shared_ptr<const ConfigEntry> config)
      : req_(req), config_(std::move(config)) {
    if constexpr (kHasContext<Req>) {
      if (config_ != nullptr) {
        req_.mutable_context()->unsafe_arena_set_allocated_config(
            const_cast<google::protobuf::Struct*>(&config_->config));
        current_call.config = config_.get();
      }
    }
  }
  ~ConfigLease() {
    if constexpr (kHasContext<Req>) {
      if (config_ != nullptr) {
        current_call.config = nullptr;
        req_.mutable_context()->unsafe_arena_release_config();
      }
    }
  }
  ConfigLease(const ConfigLease&) = delete;
  ConfigLease& operator=(const ConfigLease&) = delete;

 private:
  Req& req_;
  std::shared_ptr<const ConfigEntry> config_;
};

// Parses Req, runs fn, serializes the result; converts every failure
// (including exceptions) into an error code plus message.
// kVariablesByName: the stage's (see "Instance variables").
// Runs body (which returns a hook's code) for the hook named hook; any
// exception becomes BPM_PLUGIN_INTERNAL with its message in *out. The one
// failure path of CallHook and CallMessageHook alike.
template <typename Body>
int Guarded(const char* hook, uint8_t** out, size_t* out_len, Body&& body) noexcept {
  *out = nullptr;
  *out_len = 0;
  try {
    return body();
  } catch (const std::exception& e) {
    return Fail(BPM_PLUGIN_INTERNAL,
                std::string(hook) + " hook threw an exception: " + e.what(), out, out_len);
  } catch (...) {
    return Fail(BPM_PLUGIN_INTERNAL,
                std::string(hook) + " hook threw a non-standard exception", out, out_len);
  }
}

template <typename Req, bool kVariablesByName = false, typename Fn>
int CallHook(const char* hook, const uint8_t* request, size_t request_len,
             uint8_t** out, size_t* out_len, Fn&& fn) noexcept {
  return Guarded(hook, out, out_len, [&]() -> int {
    // On an arena: the request (variables, config, org context) is freed in
    // one go instead of one allocation at a time.
    google::protobuf::Arena arena;
    Req& req = *google::protobuf::Arena::CreateMessage<Req>(&arena);
    std::shared_ptr<const ConfigEntry> config;
    LazyVariables lazy(&arena);
    LazyVariables* vars = kHasContext<Req> && kVariablesByName ? &lazy : nullptr;
    if (!ParseRequest(request, request_len, &req, &config, vars)) {
      return Fail(BPM_PLUGIN_BAD_REQUEST,
                  std::string(hook) + ": request is not a valid " +
                      Req::descriptor()->full_name(),
                  out, out_len);
    }
    ConfigLease<Req> lease(req, std::move(config));
    VariablesScope scope(vars);
    std::string bytes = fn(req).SerializeAsString();
    if (WriteOut(bytes, out, out_len) != 0) {
      return Fail(BPM_PLUGIN_INTERNAL, std::string(hook) + ": out of memory", out, out_len);
    }
    return BPM_PLUGIN_OK;
  });
}

// The config a message hook runs with (ABI 1.1, see abi.h): with config_wire
// the cached entry is lent into req.context for the call (merged with a config
// the request carries itself, as a parse of the two-part bytes would merge
// them: uncached then), and put back as it was on destruction.
template <typename Req>
class MessageConfig {
 public:
  // False (in *ok) when config_wire is not a config prefix alone.
  MessageConfig(Req& req, const uint8_t* config_wire, size_t config_wire_len, bool* ok)
      : req_(req) {
    *ok = true;
    if (config_wire == nullptr) return;
    std::string_view rest;
    std::shared_ptr<const ConfigEntry> entry = Configs().Split(config_wire, config_wire_len, &rest);
    if (entry == nullptr || !rest.empty()) {
      *ok = false;
      return;
    }
    if (!req.context().has_config()) {
      lease_.emplace(req, std::move(entry));
      return;
    }
    merged_ = entry->config;
    merged_.MergeFrom(req.context().config());
    req.mutable_context()->mutable_config()->Swap(&merged_);
    swapped_ = true;
  }
  ~MessageConfig() {
    if (swapped_) req_.mutable_context()->mutable_config()->Swap(&merged_);
  }
  MessageConfig(const MessageConfig&) = delete;
  MessageConfig& operator=(const MessageConfig&) = delete;

 private:
  Req& req_;
  std::optional<ConfigLease<Req>> lease_;
  Struct merged_;
  bool swapped_ = false;
};

// CallHook for the hooks on the host's objects (ABI 1.1): no parse, no
// serialization; the same decisions and the same failures as CallHook.
template <typename Req, typename Fn>
int CallMessageHook(const char* hook, void* request, const uint8_t* config_wire,
                    size_t config_wire_len, void* decision, uint8_t** error,
                    size_t* error_len, Fn&& fn) noexcept {
  return Guarded(hook, error, error_len, [&]() -> int {
    Req& req = *static_cast<Req*>(request);
    bool ok = false;
    MessageConfig<Req> config(req, config_wire, config_wire_len, &ok);
    if (!ok) {
      return Fail(BPM_PLUGIN_BAD_REQUEST,
                  std::string(hook) + ": config_wire is not a config alone", error, error_len);
    }
    pb::Decision answer = fn(static_cast<const Req&>(req));
    static_cast<pb::Decision*>(decision)->Swap(&answer);
    return BPM_PLUGIN_OK;
  });
}

inline void FreeBuffer(uint8_t* owned, size_t /*len*/) { std::free(owned); }

// Adds to *names every NAME of a "${var.NAME}" template (Substitute) in the
// string values anywhere in v.
inline void AddTemplateVariables(const Value& v, std::vector<std::string>* names) {
  switch (v.kind_case()) {
    case Value::kStringValue:
      ForEachTemplate(v.string_value(),
                      [&](size_t, size_t, size_t, const std::string& name) {
                        if (name.rfind("var.", 0) == 0) names->push_back(name.substr(4));
                      });
      break;
    case Value::kStructValue:
      for (const auto& [key, item] : v.struct_value().fields()) AddTemplateVariables(item, names);
      break;
    case Value::kListValue:
      for (const Value& item : v.list_value().values()) AddTemplateVariables(item, names);
      break;
    default:
      break;
  }
}

// Fills resp.variables from the stage's VariablesRead for an accepted
// config (a stage with kVariablesByName only), with the config's templates'
// variables added; sorted, each once.
template <typename StageClass>
void DeclareVariables(const StageClass& stage, const Struct& config,
                      pb::ValidateConfigResponse* resp) {
  if constexpr (StageClass::kVariablesByName) {
    if (resp->errors_size() != 0) return;
    std::optional<std::vector<std::string>> names = stage.VariablesRead(config);
    if (!names) return;
    for (const auto& [key, item] : config.fields()) AddTemplateVariables(item, &*names);
    std::sort(names->begin(), names->end());
    names->erase(std::unique(names->begin(), names->end()), names->end());
    auto* out = resp->mutable_variables();
    for (std::string& n : *names) out->add_names(std::move(n));
  } else {
    (void)stage;
    (void)config;
    (void)resp;
  }
}

// Stamps the ABI this plugin is built against into its description, so that
// a plugin's Describe() never has to (remote hosts check these fields).
inline pb::DescribeResponse WithAbi(pb::DescribeResponse d) {
  d.set_abi_major(BPM_PLUGIN_ABI_MAJOR);
  d.set_abi_minor(BPM_PLUGIN_ABI_MINOR);
  return d;
}

}  // namespace internal

// The answer to ValidateConfig for stage: its ConfigErrors and, for an
// accepted config of a stage with kVariablesByName, the variables its hooks
// read (VariablesRead plus the config's "${var.NAME}" templates; see
// "Instance variables"). BPM_PLUGIN_EXPORT answers with it in process; a
// remote plugin's gRPC service answers with it too (examples/remote_stage).
template <typename StageClass>
pb::ValidateConfigResponse ValidateConfigAnswer(const StageClass& stage, const Struct& config) {
  std::vector<pb::ConfigError> errors;
  stage.ValidateConfig(config, &errors);
  pb::ValidateConfigResponse resp;
  for (auto& e : errors) *resp.add_errors() = std::move(e);
  internal::DeclareVariables(stage, config, &resp);
  return resp;
}

}  // namespace bpm::plugin

// Exports CLASS as the stage plugin NAME, VERSION. Use once per plugin.
#define BPM_PLUGIN_EXPORT(CLASS, NAME, VERSION)                                       \
  namespace {                                                                         \
  const CLASS& BpmPluginInstance() {                                                  \
    static const CLASS instance;                                                      \
    return instance;                                                                  \
  }                                                                                   \
  int BpmHookDescribe(const uint8_t* r, size_t n, uint8_t** o, size_t* on) {          \
    return ::bpm::plugin::internal::CallHook<::bpm::plugin::pb::DescribeRequest>(     \
        "describe", r, n, o, on,                                                      \
        [](const ::bpm::plugin::pb::DescribeRequest&) {                               \
          return ::bpm::plugin::internal::WithAbi(BpmPluginInstance().Describe());    \
        });                                                                           \
  }                                                                                   \
  int BpmHookValidate(const uint8_t* r, size_t n, uint8_t** o, size_t* on) {          \
    return ::bpm::plugin::internal::CallHook<::bpm::plugin::pb::ValidateConfigRequest>( \
        "validate_config", r, n, o, on,                                               \
        [](const ::bpm::plugin::pb::ValidateConfigRequest& q) {                       \
          return ::bpm::plugin::ValidateConfigAnswer(BpmPluginInstance(), q.config());  \
        });                                                                           \
  }                                                                                   \
  int BpmHookEnter(const uint8_t* r, size_t n, uint8_t** o, size_t* on) {             \
    return ::bpm::plugin::internal::CallHook<::bpm::plugin::pb::EnterRequest,         \
                                             CLASS::kVariablesByName>(                \
        "enter", r, n, o, on,                                                         \
        [](const ::bpm::plugin::pb::EnterRequest& q) { return BpmPluginInstance().Enter(q); }); \
  }                                                                                   \
  int BpmHookAct(const uint8_t* r, size_t n, uint8_t** o, size_t* on) {               \
    return ::bpm::plugin::internal::CallHook<::bpm::plugin::pb::ActRequest,           \
                                             CLASS::kVariablesByName>(                \
        "act", r, n, o, on,                                                           \
        [](const ::bpm::plugin::pb::ActRequest& q) { return BpmPluginInstance().Act(q); }); \
  }                                                                                   \
  int BpmHookTimer(const uint8_t* r, size_t n, uint8_t** o, size_t* on) {             \
    return ::bpm::plugin::internal::CallHook<::bpm::plugin::pb::TimerRequest,         \
                                             CLASS::kVariablesByName>(                \
        "on_timer", r, n, o, on,                                                      \
        [](const ::bpm::plugin::pb::TimerRequest& q) { return BpmPluginInstance().OnTimer(q); }); \
  }                                                                                   \
  int BpmMessageEnter(void* r, const uint8_t* c, size_t cn, void* d, uint8_t** e,   \
                      size_t* en) {                                                   \
    return ::bpm::plugin::internal::CallMessageHook<::bpm::plugin::pb::EnterRequest>( \
        "enter", r, c, cn, d, e, en,                                                  \
        [](const ::bpm::plugin::pb::EnterRequest& q) { return BpmPluginInstance().Enter(q); }); \
  }                                                                                   \
  int BpmMessageAct(void* r, const uint8_t* c, size_t cn, void* d, uint8_t** e,     \
                    size_t* en) {                                                     \
    return ::bpm::plugin::internal::CallMessageHook<::bpm::plugin::pb::ActRequest>(   \
        "act", r, c, cn, d, e, en,                                                    \
        [](const ::bpm::plugin::pb::ActRequest& q) { return BpmPluginInstance().Act(q); }); \
  }                                                                                   \
  int BpmMessageTimer(void* r, const uint8_t* c, size_t cn, void* d, uint8_t** e,   \
                      size_t* en) {                                                   \
    return ::bpm::plugin::internal::CallMessageHook<::bpm::plugin::pb::TimerRequest>( \
        "on_timer", r, c, cn, d, e, en,                                               \
        [](const ::bpm::plugin::pb::TimerRequest& q) { return BpmPluginInstance().OnTimer(q); }); \
  }                                                                                   \
  const bpm_plugin_v1 kBpmPluginTable = {                                             \
      BPM_PLUGIN_ABI_MAJOR, BPM_PLUGIN_ABI_MINOR, NAME, VERSION,                      \
      &BpmHookDescribe,     &BpmHookValidate,     &BpmHookEnter,                      \
      &BpmHookAct,          &BpmHookTimer,        &::bpm::plugin::internal::FreeBuffer, \
      &::bpm::plugin::ThisMessageLibrary, &BpmMessageEnter, &BpmMessageAct,           \
      &BpmMessageTimer};                                                              \
  }                                                                                   \
  extern "C" __attribute__((visibility("default"))) const bpm_plugin_v1*              \
  bpm_plugin_entry_v1(void) {                                                         \
    return &kBpmPluginTable;                                                          \
  }
