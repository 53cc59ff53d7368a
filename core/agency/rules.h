// bpm::agency — the rules for third-party agencies (第三方机构), pure functions.
//
// CheckEngagement enforces 财预〔2021〕6号 (关于委托第三方机构参与预算绩效管理的指导
// 意见) when an agency is engaged:
//   - the agency is active and declares no major violations in 3 years;
//   - a department may not commission an evaluation of its own performance
//     management (commissioner == evaluated org);
//   - target setting, monitoring and self-evaluation stay with the budget
//     unit: they can be commissioned only in "assist" mode (the agency does
//     not author the conclusion);
//   - conflict of interest: an agency that did the ex-ante assessment or
//     consulting for a subject cannot evaluate it, nor can one that declared
//     the evaluated or commissioning org a related party;
//   - a key evaluation carries a sheet of the 决策/过程/产出/效益 tree whose
//     weights add up to 100 with output + benefit ≥ 60 (财预〔2020〕10号).
// ValidateDeliverable checks an agency's deliverable against its engagement.
//
// Errors: FAILED_PRECONDITION naming the rule for a forbidden engagement;
// INVALID_ARGUMENT naming the field for malformed input.
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "bpm/v1/agency.pb.h"
#include "core/common/status.h"

namespace bpm::agency {

namespace v1 = ::bpm::v1;

Status ValidateAgency(const v1::Agency& agency);
Status ValidateSheet(const v1::IndicatorSheet& sheet, const std::string& field);
// prior: the subject's earlier engagements (of any agency).
Status CheckEngagement(const v1::Engagement& engagement, const v1::Agency& agency,
                       const std::vector<v1::Engagement>& prior);
// scored: the stage expects the evaluation's scores (a draft or final
// report), checked against the engagement's sheet; otherwise only the
// deliverable's form (file digests; no conclusion in assist mode).
Status ValidateDeliverable(const v1::Deliverable& deliverable, const v1::Engagement& engagement,
                           bool scored);
// 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, else 差 (half-open bands).
std::string GradeOf(double total);

}  // namespace bpm::agency
