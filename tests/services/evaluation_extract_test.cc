// The evaluators' extract, below the service: whatever any event carries,
// the extract holds no string an agency recorded, no id and no exact date,
// only pseudonyms, months, counts and category names; columns follow the
// classes the caller's evaluation rules allow; pseudonyms follow the key.
#include "services/evaluation_extract.h"

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

#include "auth/data_classes.h"
#include "auth/recording_policy.h"
#include "services/report_facts.h"

namespace hub::services {
namespace {

using google::protobuf::FieldDescriptor;
using ::testing::HasSubstr;
using ::testing::Not;

// Sets every field of `message` (recursively, every member of every oneof
// but the first of each, which `fill_oneofs` picks): strings to a canary
// naming the field, numbers to one an extract would not count to, dates
// to an exact day. Collects the canaries.
void FillEverything(google::protobuf::Message* message, const std::string& path,
                    std::set<std::string>* canaries) {
  const google::protobuf::Descriptor* descriptor = message->GetDescriptor();
  const google::protobuf::Reflection* reflection = message->GetReflection();
  if (auto* date = dynamic_cast<hub::v1::CalendarDate*>(message)) {
    date->set_year(2026);
    date->set_month(3);
    date->set_day(17);
    return;
  }
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    // A correction's own oneof holds a whole event: filled by its own run.
    if (field->containing_oneof() != nullptr) continue;
    const std::string at = absl::StrCat(path, ".", field->name());
    const int copies = field->is_repeated() ? 2 : 1;
    for (int k = 0; k < copies; ++k) {
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING: {
          const std::string canary = absl::StrCat("CANARY", canaries->size(), "X", at, k);
          canaries->insert(canary);
          if (field->is_repeated()) {
            reflection->AddString(message, field, canary);
          } else {
            reflection->SetString(message, field, canary);
          }
          break;
        }
        case FieldDescriptor::CPPTYPE_INT32:
          if (field->is_repeated()) {
            reflection->AddInt32(message, field, 7771);
          } else {
            reflection->SetInt32(message, field, 7771);
          }
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          if (field->is_repeated()) {
            reflection->AddBool(message, field, true);
          } else {
            reflection->SetBool(message, field, true);
          }
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const auto* value = field->enum_type()->value(field->enum_type()->value_count() - 1);
          if (field->is_repeated()) {
            reflection->AddEnum(message, field, value);
          } else {
            reflection->SetEnum(message, field, value);
          }
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE:
          FillEverything(field->is_repeated() ? reflection->AddMessage(message, field)
                                              : reflection->MutableMessage(message, field),
                         at, canaries);
          break;
        default:
          break;
      }
    }
  }
  // Of each oneof, its first member (subject_linked: the perpetrator).
  for (int o = 0; o < descriptor->oneof_decl_count(); ++o) {
    const FieldDescriptor* first = descriptor->oneof_decl(o)->field(0);
    if (first->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      FillEverything(reflection->MutableMessage(message, first),
                     absl::StrCat(path, ".", first->name()), canaries);
    }
  }
}

TEST(EvaluationExtractTest, NoStringAnAgencyRecordedNoIdAndNoExactDateReachesIt) {
  // Every event type, every field set, folded into one case's facts.
  std::set<std::string> canaries;
  hub::v1::CaseFacts facts;
  const std::string case_id = "CANARY-CASE-ID-C-2026-00042";
  canaries.insert(case_id);
  const google::protobuf::OneofDescriptor* events =
      hub::v1::EventEnvelope::descriptor()->FindOneofByName("event");
  for (int i = 0; i < events->field_count(); ++i) {
    hub::v1::EventEnvelope envelope;
    envelope.set_case_id(case_id);
    envelope.mutable_occurred_time()->set_seconds(1773705600);  // 2026-03-17
    FillEverything(envelope.GetReflection()->MutableMessage(&envelope, events->field(i)),
                   events->field(i)->name(), &canaries);
    ApplyToFacts(envelope, &facts);
  }
  ASSERT_GT(canaries.size(), 60u);
  ASSERT_FALSE(facts.referrals().empty());
  ASSERT_FALSE(facts.perpetrator_ids().empty());

  auth::ClassMask everything;
  everything.set();
  const auth::Pseudonymiser pseudonyms("test key");
  hub::v1::GetEvaluationExtractResponse extract;
  BuildExtract({case_id}, {&facts}, everything, pseudonyms, &extract);
  ASSERT_EQ(extract.rows_size(), 1);
  EXPECT_EQ(extract.columns_size(), static_cast<int>(ExtractColumns().size()));
  std::string text = extract.DebugString();
  for (const std::string& canary : canaries) {
    EXPECT_THAT(text, Not(HasSubstr(canary))) << canary;
  }
  EXPECT_THAT(text, Not(HasSubstr("CANARY")));
  EXPECT_THAT(text, Not(HasSubstr("2026-03-17")));
  // Only pseudonyms, months, numbers, booleans and enum value names.
  const std::regex allowed(
      "^(|case-[0-9a-f]{24}|person-[0-9a-f]{24}|[0-9]{4}-[0-9]{2}|[0-9]+|true|false|"
      "[A-Z][A-Z0-9_]*(;[A-Z][A-Z0-9_]*)*)$");
  for (int i = 0; i < extract.rows(0).values_size(); ++i) {
    EXPECT_TRUE(std::regex_match(extract.rows(0).values(i), allowed))
        << extract.columns(i).name() << " = " << extract.rows(0).values(i);
  }
}

TEST(EvaluationExtractTest, ColumnsFollowTheClassesTheEvaluatorsRulesAllow) {
  hub::v1::CaseFacts facts;
  facts.add_referrals()->set_day(20500);
  facts.add_perpetrator_ids("P-1");
  auth::ClassMask administration;
  administration.set(hub::v1::CASE_ADMINISTRATION);
  const auth::Pseudonymiser pseudonyms("test key");
  hub::v1::GetEvaluationExtractResponse extract;
  BuildExtract({"C-1"}, {&facts}, administration, pseudonyms, &extract);
  std::set<std::string> kept, withheld;
  for (const auto& column : extract.columns()) {
    EXPECT_EQ(column.data_class(), hub::v1::CASE_ADMINISTRATION) << column.name();
    kept.insert(column.name());
  }
  for (const auto& column : extract.withheld_columns()) withheld.insert(column.name());
  EXPECT_EQ(kept.size() + withheld.size(), ExtractColumns().size());
  EXPECT_EQ(kept.count("case"), 1u);
  EXPECT_EQ(kept.count("referral_month"), 1u);
  // The person's pseudonym derives from an identity class; risk and
  // offending are classes of their own.
  EXPECT_EQ(withheld.count("person"), 1u);
  EXPECT_EQ(withheld.count("risk_at_start"), 1u);
  EXPECT_EQ(withheld.count("police_incidents_after"), 1u);
  ASSERT_EQ(extract.rows_size(), 1);
  EXPECT_EQ(extract.rows(0).values_size(), extract.columns_size());
}

TEST(EvaluationExtractTest, PseudonymsFollowTheKeyAndKeepKindsApart) {
  const auth::Pseudonymiser key("key one");
  const auth::Pseudonymiser same("key one");
  const auth::Pseudonymiser other("key two");
  EXPECT_EQ(key.Of("case", "C-1"), same.Of("case", "C-1"));
  EXPECT_NE(key.Of("case", "C-1"), other.Of("case", "C-1"));
  EXPECT_NE(key.Of("case", "C-1"), key.Of("case", "C-2"));
  EXPECT_NE(key.Of("case", "X").substr(sizeof("case-") - 1),
            key.Of("person", "X").substr(sizeof("person-") - 1));
  EXPECT_THAT(key.Of("case", "C-1"), ::testing::MatchesRegex("case-[0-9a-f]{24}"));
  EXPECT_EQ(key.key_id(), same.key_id());
  EXPECT_NE(key.key_id(), other.key_id());
}

}  // namespace
}  // namespace hub::services
