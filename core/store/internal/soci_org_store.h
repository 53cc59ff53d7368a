// Internal to core/store: the SOCI OrgStore, sharing SociStore's pool.
#pragma once

#include <memory>

#include "core/store/internal/soci_db.h"
#include "core/store/org_store.h"

namespace bpm::store::internal {

std::unique_ptr<OrgStore> NewSociOrgStore(std::shared_ptr<SociDb> db);

}  // namespace bpm::store::internal
