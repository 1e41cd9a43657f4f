// The evaluators' pseudonymised per-case extract: what the programme did
// and what came of it for each case, from the projector's case facts, with
// keyed pseudonyms for ids, months for dates and nothing that locates or
// describes anyone in words.
#ifndef HUB_SERVICES_EVALUATION_EXTRACT_H_
#define HUB_SERVICES_EVALUATION_EXTRACT_H_

#include <vector>

#include "auth/pseudonyms.h"
#include "auth/sharing_policy.h"

#include "hub/v1/report_service.pb.h"
#include "hub/v1/views.pb.h"

namespace hub::services {

// Every column the extract can hold, in order, each with its data class.
const std::vector<hub::v1::ExtractColumn>& ExtractColumns();

// The extract of `cases` (one row per case with a referral), keeping only
// the columns whose class is in `allowed` (the others are listed as
// withheld). `case_ids[i]` is the id of `cases[i]`.
void BuildExtract(const std::vector<std::string>& case_ids,
                  const std::vector<const hub::v1::CaseFacts*>& cases,
                  const auth::ClassMask& allowed, const auth::Pseudonymiser& pseudonyms,
                  hub::v1::GetEvaluationExtractResponse* extract);

}  // namespace hub::services

#endif  // HUB_SERVICES_EVALUATION_EXTRACT_H_
