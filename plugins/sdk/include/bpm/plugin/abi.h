/*
 * bpm stage-plugin ABI, version 1 — the only thing that crosses the dlopen
 * boundary between bpmd and an in-process stage plugin.
 *
 * Pure C: only <stdint.h> and <stddef.h>. Requests and decisions cross as
 * serialized protobuf messages of package bpm.plugin.v1 (see
 * proto/bpm/plugin/v1/plugin.proto), the same messages that out-of-process
 * plugins receive over gRPC. No exception ever crosses.
 *
 * Since ABI 1.1 a plugin may also take the host's messages themselves
 * (enter_message, act_message, on_timer_message): when it uses the very
 * copy of the bpm.plugin.v1 message code that the host uses (the same loaded
 * libbpm_plugin_proto, which message_library identifies), a request need not
 * be serialized by the host and parsed by the plugin, nor a decision the
 * other way. The host calls these only after comparing message_library with
 * its own; a plugin with a copy of its own (or an older plugin) gets bytes.
 *
 * A plugin shared object exports exactly one symbol, bpm_plugin_entry_v1,
 * which returns a pointer to a static, immutable bpm_plugin_v1 table. The host
 * refuses the plugin when abi_major differs from BPM_PLUGIN_ABI_MAJOR or when
 * abi_minor is newer than the host's BPM_PLUGIN_ABI_MINOR.
 *
 * Ownership: input buffers and objects are owned by the caller (the host)
 * and valid only for the duration of the call. Output buffers (*out_owned,
 * *error_owned) are allocated by the plugin and must be released by the host
 * through free_buffer of the same table.
 *
 * Thread safety: every hook may be called concurrently from several host
 * threads; hooks must be pure functions of their input.
 */
#ifndef BPM_PLUGIN_ABI_H_
#define BPM_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BPM_PLUGIN_ABI_MAJOR 1u
#define BPM_PLUGIN_ABI_MINOR 1u

/* Return codes of every hook. On anything but BPM_PLUGIN_OK, *out_owned holds
 * a UTF-8 error message (not NUL-terminated; *out_len bytes), or is NULL. */
enum bpm_plugin_status {
  BPM_PLUGIN_OK = 0,
  BPM_PLUGIN_BAD_REQUEST = 1, /* the request bytes did not parse */
  BPM_PLUGIN_INTERNAL = 2     /* the hook failed (an exception, a bug) */
};

/* One hook: serialized request in, serialized response out. */
typedef int (*bpm_plugin_hook_fn)(const uint8_t* request, size_t request_len,
                                  uint8_t** out_owned, size_t* out_len);

/* One hook on the host's own objects (ABI 1.1; see above). request: the
 * host's bpm.plugin.v1 request object (EnterRequest, ActRequest or
 * TimerRequest), lent for the call. config_wire: NULL when the request
 * carries its config; otherwise the state's config as the bytes the byte
 * hooks get ahead of a request without one (the host's ConfigWire), and the
 * plugin may then set the request's context.config for the call, putting it
 * back as it was before it returns; it changes nothing else of the request.
 * decision: a bpm.plugin.v1.Decision object the plugin fills. Errors as for
 * bpm_plugin_hook_fn, the message in *error_owned. */
typedef int (*bpm_plugin_message_hook_fn)(void* request, const uint8_t* config_wire,
                                          size_t config_wire_len, void* decision,
                                          uint8_t** error_owned, size_t* error_len);

/* What identifies the plugin's copy of the message code (ABI 1.1): the
 * address of its bpm.plugin.v1.Decision default instance, and a digest of
 * the sizes of the message classes as the plugin was compiled. The host
 * passes objects only when both equal its own. */
typedef struct bpm_plugin_message_library {
  const void* decision_default_instance;
  uint64_t layout;
} bpm_plugin_message_library;

typedef struct bpm_plugin_v1 {
  uint32_t abi_major;      /* BPM_PLUGIN_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor;      /* BPM_PLUGIN_ABI_MINOR the plugin was built with */
  const char* name;        /* stage name, NUL-terminated, static storage */
  const char* version;     /* plugin version, NUL-terminated, static storage */
  bpm_plugin_hook_fn describe;        /* DescribeRequest -> DescribeResponse */
  bpm_plugin_hook_fn validate_config; /* ValidateConfigRequest -> ValidateConfigResponse */
  bpm_plugin_hook_fn enter;           /* EnterRequest -> Decision */
  bpm_plugin_hook_fn act;             /* ActRequest -> Decision */
  bpm_plugin_hook_fn on_timer;        /* TimerRequest -> Decision */
  void (*free_buffer)(uint8_t* owned, size_t len);
  /* ABI 1.1: the host reads these only when abi_minor >= 1; any may be NULL
   * (the byte hooks are used then). */
  bpm_plugin_message_library (*message_library)(void);
  bpm_plugin_message_hook_fn enter_message;    /* EnterRequest -> Decision */
  bpm_plugin_message_hook_fn act_message;      /* ActRequest -> Decision */
  bpm_plugin_message_hook_fn on_timer_message; /* TimerRequest -> Decision */
} bpm_plugin_v1;

/* The entry symbol's name and type. */
#define BPM_PLUGIN_ENTRY_SYMBOL "bpm_plugin_entry_v1"
typedef const bpm_plugin_v1* (*bpm_plugin_entry_v1_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* BPM_PLUGIN_ABI_H_ */
