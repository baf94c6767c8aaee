// Fuzz target for ParsePolicy (STYLE.md rule 15). Beyond "no crash, no sanitizer report", it
// checks the writer's contract on every input the reader accepts: the output reads back to the
// same policy, writing is stable, and a rejection always says where and why.
#include <cstdint>
#include <string_view>
#include <vector>

#include "policy/policy_codec.h"
#include "tests/fuzz/promise.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace bulkhead::policy;
  using bulkhead::fuzz::Promise;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = ParsePolicy(text, "fuzz.yaml");
  if (!policy) {
    Promise(!policy.error().errors.empty(), "a rejection has at least one located message");
    return 0;
  }
  const std::string yaml = WritePolicyYaml(*policy);
  auto again = ParsePolicy(yaml, "again.yaml");
  Promise(again && *again == *policy, "the YAML written reads back as the same policy");
  Promise(WritePolicyYaml(*again) == yaml, "writing the YAML is stable");
  // Comments must never change what the file says.
  const std::vector<AllowComment> comments(policy->allow.size(),
                                           AllowComment{1, 2, 3, "a\nkind: x", "#\r"});
  auto commented = ParsePolicy(WritePolicyYaml(*policy, comments), "commented.yaml");
  Promise(commented && *commented == *policy, "comments never change what the file says");
  return 0;
}
