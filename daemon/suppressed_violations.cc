#include "daemon/suppressed_violations.h"

namespace bulkhead::daemon {

void SuppressedViolations::Update(const std::vector<enforcer::SuppressedCount>& current,
                                  const GroupOf& group_of) {
  for (const auto& c : current) {
    std::uint64_t& last = last_[{c.v6, c.address}];
    const std::uint64_t added = c.packets >= last ? c.packets - last : c.packets;
    last = c.packets;
    if (added == 0) {
      continue;
    }
    const capture::IpAddr source = c.v6 ? capture::IpAddr::FromV6Bytes(c.address.data())
                                        : capture::IpAddr::FromV4Bytes(c.address.data());
    totals_[group_of(source)] += added;
  }
}

}  // namespace bulkhead::daemon
