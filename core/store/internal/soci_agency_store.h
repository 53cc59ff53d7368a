// Internal to core/store: the SOCI AgencyStore, sharing SociStore's pool, and
// the external-task/incident/outbox parts of Store::Apply.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/store/agency_store.h"
#include "core/store/internal/commit_writer.h"
#include "core/store/internal/soci_db.h"
#include "core/store/store.h"

namespace bpm::store::internal {

std::unique_ptr<AgencyStore> NewSociAgencyStore(std::shared_ptr<SociDb> db);

// The SELECT of an instance's external tasks (placeholder :k), as
// ListExternalTasks runs it, and the decoding of one of its rows.
const std::string& ExternalTasksOfInstanceQuery();
void ReadExternalTask(RowReader& r, ExternalTaskRow& row);
// ListExternalTasks on a session the caller holds (inside its transaction).
// Throws SOCI errors (run it under SociDb::Session).
std::vector<ExternalTaskRow> ExternalTasksOf(SociDb& db, soci::session& sql,
                                             const std::string& instance_id);

// Writes commit's external tasks, incidents and outbox messages through w,
// inside the caller's transaction. ABORTED when a conditional update lost a
// race (on MariaDB, from w.Flush()).
Status ApplyAgencyWrites(CommitWriter& w, const Commit& commit);

}  // namespace bpm::store::internal
