// The access log (等保 level 3: who, what, when, from where, result): one line
// per RPC, written when its status is sent —
//   2026-12-05T15:40:01.123Z peer=ipv4:10.1.2.3:50412 user=zhang
//       method=/bpm.v1.TaskService/Act status=OK ms=3.2
// (on one line). user is who CallerOf found ("-" when the call failed before,
// e.g. UNAUTHENTICATED); status is the gRPC code name. Nothing of the request
// or its credentials is logged. What a call changed is in the instance's
// history (the audit trail); this log also keeps the refused and the read-only
// calls.
//
// Thread safety: the log is written from any gRPC thread, one line at a time.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

#include "core/common/status.h"

namespace bpm::server {

// An interceptor factory appending to path ("-": standard output). Set it on
// the ServerBuilder (experimental().SetInterceptorCreators). INVALID_ARGUMENT
// when the file cannot be opened for appending.
StatusOr<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> NewAccessLog(
    const std::string& path);

// Records who a call's caller is, for its access log line (CallerOf calls it).
void NoteCaller(const grpc::ServerContextBase& ctx, const std::string& user);

}  // namespace bpm::server
