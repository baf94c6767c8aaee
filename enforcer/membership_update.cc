#include "enforcer/membership_update.h"

#include <algorithm>
#include <unordered_set>

#include "policy/grouping.h"

namespace bulkhead::enforcer {
namespace {

// What of a workload the ruleset depends on (its id does not matter; its MAC binds its port).
bool SameForRuleset(const policy::Workload& a, const policy::Workload& b) {
  return a.labels == b.labels && a.addresses == b.addresses && a.interface == b.interface &&
         a.mac == b.mac;
}

// Collects elements per (family, set) in first-seen order.
class DeltaBuilder {
 public:
  using SetIndex = std::map<std::pair<Family, std::string>, Set*, std::less<>>;
  explicit DeltaBuilder(const SetIndex& sets) : sets_index_(sets) {}

  bool Add(Family family, std::string_view set, Element e, bool removed) {
    SetDelta* d = Find(family, set);
    if (d == nullptr) {
      return false;
    }
    (removed ? d->removed : d->set.elements).push_back(std::move(e));
    return true;
  }

  // Drops a removal and an addition of the same element (a workload that changed but kept this
  // part), and the sets left without a change.
  ElementDelta Finish() {
    ElementDelta out;
    for (auto& d : sets_) {
      auto& added = d.set.elements;
      for (auto r = d.removed.begin(); r != d.removed.end();) {
        auto a = std::find_if(added.begin(), added.end(),
                              [&](const Element& e) { return SameElement(e, *r); });
        if (a != added.end()) {
          added.erase(a);
          r = d.removed.erase(r);
        } else {
          ++r;
        }
      }
      if (!added.empty() || !d.removed.empty()) {
        out.sets.push_back(std::move(d));
      }
    }
    return out;
  }

 private:
  SetDelta* Find(Family family, std::string_view name) {
    for (auto& d : sets_) {
      if (d.family == family && d.set.name == name) {
        return &d;
      }
    }
    auto it = sets_index_.find(std::pair{family, std::string(name)});
    if (it == sets_index_.end()) {
      return nullptr;
    }
    const Set* s = it->second;  // the declaration; its elements are not copied
    SetDelta d;
    d.family = family;
    d.table = std::string(kTableName);
    d.set.name = s->name;
    d.set.key = s->key;
    d.set.data = s->data;
    d.set.interval = s->interval;
    d.set.counter = s->counter;
    d.set.size = s->size;
    d.set.dynamic = s->dynamic;
    d.set.single_port_edges_of = s->single_port_edges_of;
    d.set.origin = s->origin;
    sets_.push_back(std::move(d));
    return &sets_.back();
  }

  const SetIndex& sets_index_;
  std::vector<SetDelta> sets_;
};

}  // namespace

MembershipTracker::MembershipTracker(policy::Policy policy, policy::Inventory inventory,
                                     CompileOptions options, CompiledPolicy compiled)
    : policy_(std::make_shared<const policy::Policy>(std::move(policy))),
      host_addresses_(std::move(inventory.host.addresses)),
      options_(options),
      compiled_(std::move(compiled)),
      matcher_(std::make_unique<GroupMatcher>(*policy_)) {
  group_by_ = policy_->group_by.empty() ? policy::DefaultGroupBy() : policy_->group_by;
  failsafe_ = FailsafeGroups(*policy_, compiled_.membership);
  for (const auto& g : compiled_.membership.groups) {
    for (const auto& m : g.members) {
      group_of_[m.name] = g.name;
    }
  }
  for (Table& t : compiled_.ruleset.tables) {
    for (Set& set : t.sets) {
      sets_.emplace(std::pair{t.family, set.name}, &set);
    }
  }
  workloads_.reserve(inventory.workloads.size());
  for (const auto& w : inventory.workloads) {
    IndexAdd(w, group_of_[w.name]);
  }
}

void MembershipTracker::IndexAdd(const policy::Workload& w, const std::string& group) {
  group_of_[w.name] = group;
  for (const auto& a : w.addresses) {
    owner_of_address_[a] = w.name;
  }
  if (w.interface.empty()) {
    ++without_iface_;
  } else {
    ++with_iface_;
    ++iface_users_[w.interface];
  }
  policy::Group d = policy::DeriveGroup(w, group_by_);
  auto& entry = derived_[d.name];
  entry.first = d.selector;
  ++entry.second;
  workloads_.insert_or_assign(w.name, w);
}

void MembershipTracker::IndexRemove(const std::string& name) {
  auto it = workloads_.find(name);
  if (it == workloads_.end()) {
    return;
  }
  const policy::Workload& w = it->second;
  for (const auto& a : w.addresses) {
    owner_of_address_.erase(a);
  }
  if (w.interface.empty()) {
    --without_iface_;
  } else {
    --with_iface_;
    if (auto u = iface_users_.find(w.interface); u != iface_users_.end() && --u->second == 0) {
      iface_users_.erase(u);
    }
  }
  if (auto d = derived_.find(policy::DeriveGroup(w, group_by_).name);
      d != derived_.end() && --d->second.second == 0) {
    derived_.erase(d);
  }
  group_of_.erase(name);
  workloads_.erase(it);
}

const ResolvedGroup* MembershipTracker::GroupOf(const std::string& workload) const {
  auto it = group_of_.find(workload);
  return it == group_of_.end() ? nullptr : compiled_.membership.Find(it->second);
}

std::optional<MembershipTracker::Plan> MembershipTracker::PlanChange(
    const policy::Inventory& next, std::size_t max_changes) const {
  if (next.host.addresses != host_addresses_) {
    return std::nullopt;
  }
  // Which workloads went, came or changed: one hash lookup per workload.
  std::vector<const policy::Workload*> gone;
  std::vector<const policy::Workload*> came;
  std::size_t kept = 0;
  for (const auto& w : next.workloads) {
    auto it = workloads_.find(w.name);
    if (it == workloads_.end()) {
      came.push_back(&w);
    } else {
      ++kept;
      if (!SameForRuleset(it->second, w)) {
        gone.push_back(&it->second);
        came.push_back(&w);
      }
    }
    if (gone.size() + came.size() > max_changes) {
      return std::nullopt;
    }
  }
  if (kept != workloads_.size()) {
    std::unordered_set<std::string_view> present;
    present.reserve(next.workloads.size());
    for (const auto& w : next.workloads) {
      if (!present.insert(w.name).second) {
        return std::nullopt;  // two workloads with one name: the full compile says so
      }
    }
    for (const auto& [name, w] : workloads_) {
      if (present.count(name) == 0) {
        gone.push_back(&w);
      }
    }
  }
  if (gone.size() + came.size() > max_changes) {
    return std::nullopt;
  }
  return Build(gone, came);
}

std::optional<MembershipTracker::Plan> MembershipTracker::PlanWorkloads(
    const std::vector<policy::Workload>& came_in, const std::vector<std::string>& gone_in) const {
  std::vector<const policy::Workload*> gone;
  std::vector<const policy::Workload*> came;
  std::unordered_set<std::string_view> names;
  for (const auto& name : gone_in) {
    auto it = workloads_.find(name);
    if (it == workloads_.end() || !names.insert(name).second) {
      return std::nullopt;  // not tracked: the caller's picture differs from ours
    }
    gone.push_back(&it->second);
  }
  for (const auto& w : came_in) {
    auto it = workloads_.find(w.name);
    if (it != workloads_.end() && names.count(w.name) == 0) {
      if (SameForRuleset(it->second, w)) {
        continue;
      }
      gone.push_back(&it->second);  // changed: replaced
    }
    came.push_back(&w);
  }
  return Build(gone, came);
}

// The change of one Build, worked out on small overlays of the tracker's indexes, which stay
// untouched until Commit.
struct MembershipTracker::PlanDraft {
  explicit PlanDraft(const DeltaBuilder::SetIndex& sets) : delta(sets) {}

  Plan plan;
  DeltaBuilder delta;
  bool bridge = false;
  std::unordered_map<std::string, long> iface_change;
  std::unordered_set<std::string> freed;               // addresses of leaving workloads
  std::unordered_map<std::string, std::string> taken;  // addresses of arriving ones
  std::map<std::string, long> derived_left;            // derived group -> leaving members
  std::map<std::string, policy::Labels> derived_new;   // selectors arriving workloads form
  std::unordered_set<std::string_view> came_names;
  long with_iface = 0;
  long without_iface = 0;
  bool ok = true;  // false: an element for a set the ruleset does not declare, or a shared
                   // port's MAC (the full compile lists it once)
};

// Adds (or removes) the elements of member `m` of group `g` to the draft's delta.
void MembershipTracker::Emit(PlanDraft& draft, const ResolvedGroup& g, const MemberWorkload& m,
                             bool removed) const {
  auto users = [&](const std::string& iface) {
    auto base = iface_users_.find(iface);
    return (base == iface_users_.end() ? 0L : static_cast<long>(base->second)) +
           draft.iface_change[iface];
  };
  const bool fs = failsafe_.count(g.name) != 0;
  for (Family f : {Family::kInet, Family::kBridge}) {
    if (f == Family::kBridge && !draft.bridge) {
      continue;
    }
    ForEachMemberElement(f, g, m, fs, [&](std::string_view set, Element e) {
      // A shared interface is listed once: only its first user adds it, its last removes it.
      if (set == kInterfaceSet && users(m.interface) != (removed ? 0 : 1)) {
        return;
      }
      // A shared port's MAC elements are listed once for all its users (FillMemberSets): which
      // ones stay is the full compile's to decide.
      if ((set == kMacPortSet || set == kPortMacSet) && users(m.interface) != (removed ? 0 : 1)) {
        draft.ok = false;
        return;
      }
      draft.ok = draft.delta.Add(f, set, std::move(e), removed) && draft.ok;
    });
  }
}

bool MembershipTracker::Leave(PlanDraft& draft, const policy::Workload& w) const {
  const ResolvedGroup* g = GroupOf(w.name);
  if (g == nullptr) {
    return false;
  }
  auto m = std::find_if(g->members.begin(), g->members.end(),
                        [&](const MemberWorkload& x) { return x.name == w.name; });
  if (m == g->members.end()) {
    return false;
  }
  draft.freed.insert(w.addresses.begin(), w.addresses.end());
  if (w.interface.empty()) {
    --draft.without_iface;
  } else {
    --draft.with_iface;
    --draft.iface_change[w.interface];
  }
  ++draft.derived_left[policy::DeriveGroup(w, group_by_).name];
  Emit(draft, *g, *m, true);
  draft.plan.removed.push_back({g->name, *m});
  draft.plan.gone.push_back(w.name);
  return true;
}

// The group an arriving workload joins; nullopt when the incremental path cannot tell (the
// full compile then decides, and reports any error).
std::optional<std::string> MembershipTracker::GroupOfArrival(PlanDraft& draft,
                                                             const policy::Workload& w) const {
  if (!draft.came_names.insert(w.name).second || w.name.empty()) {
    return std::nullopt;  // two workloads with one name, or none
  }
  policy::Group d = policy::DeriveGroup(w, group_by_);
  if (d.name == policy::kHostGroup || d.name == policy::kWorldGroup) {
    return std::nullopt;
  }
  // One derived group, one selector (AssignGroups): against the staying workloads and the
  // other arriving ones.
  if (auto base = derived_.find(d.name);
      base != derived_.end() &&
      static_cast<long>(base->second.second) > draft.derived_left[d.name] &&
      base->second.first != d.selector) {
    return std::nullopt;
  }
  if (auto [it, fresh] = draft.derived_new.try_emplace(d.name, d.selector);
      !fresh && it->second != d.selector) {
    return std::nullopt;
  }
  std::vector<std::string> matched = matcher_->Match(w, d.name);
  if (matched.size() > 1) {
    return std::nullopt;
  }
  return matched.empty() ? d.name : matched[0];
}

bool MembershipTracker::Arrive(PlanDraft& draft, const policy::Workload& w,
                               policy::Mode global) const {
  const std::optional<std::string> group = GroupOfArrival(draft, w);
  if (!group) {
    return false;
  }
  std::vector<MembershipError> errors;
  MemberWorkload m = ToMember(w, errors);
  if (!errors.empty()) {
    return false;
  }
  for (const auto& a : w.addresses) {
    const bool held = owner_of_address_.count(a) != 0 && draft.freed.count(a) == 0;
    if (held || !draft.taken.emplace(a, w.name).second) {
      return false;  // an address of two workloads: the full compile says so
    }
  }
  if (w.interface.empty()) {
    ++draft.without_iface;
  } else {
    ++draft.with_iface;
    ++draft.iface_change[w.interface];
  }
  const ResolvedGroup* g = compiled_.membership.Find(*group);
  const ResolvedGroup fresh_group = ImplicitGroup(*group, global);  // used when g is new
  Emit(draft, g != nullptr ? *g : fresh_group, m, false);
  draft.plan.added.push_back({*group, std::move(m)});
  draft.plan.came.push_back(w);
  return true;
}

std::optional<MembershipTracker::Plan> MembershipTracker::Build(
    const std::vector<const policy::Workload*>& gone,
    const std::vector<const policy::Workload*>& came) const {
  PlanDraft draft(sets_);
  draft.bridge = compiled_.ruleset.FindTable(Family::kBridge, kTableName) != nullptr;
  draft.with_iface = static_cast<long>(with_iface_);
  draft.without_iface = static_cast<long>(without_iface_);
  for (const policy::Workload* w : gone) {
    if (!Leave(draft, *w)) {
      return std::nullopt;
    }
  }
  const policy::Mode global = options_.mode.value_or(policy_->mode);
  for (const policy::Workload* w : came) {
    if (!Arrive(draft, *w, global)) {
      return std::nullopt;
    }
  }
  // The ruleset's shape depends on whether any / every workload has an interface.
  if ((draft.with_iface == 0) != (with_iface_ == 0) ||
      (draft.without_iface == 0) != (without_iface_ == 0)) {
    return std::nullopt;
  }
  if (!draft.ok) {
    return std::nullopt;  // an element for a set the ruleset does not declare
  }
  Plan plan = std::move(draft.plan);
  plan.delta = draft.delta.Finish();
  for (const SetDelta& d : plan.delta.sets) {
    // A set at its size takes no more (the kernel would refuse the batch): a full compile
    // sizes it anew.
    const Set& s = *sets_.at(std::pair{d.family, d.set.name});
    if (s.size != 0 && s.elements.size() + d.set.elements.size() > s.size + d.removed.size()) {
      return std::nullopt;
    }
  }
  return plan;
}

namespace {

// An element's key (and interval end) as bytes: the index of MembershipTracker::positions_.
std::string KeyBytes(const Element& e) {
  std::string out;
  auto add = [&out](const std::vector<Value>& values) {
    for (const Value& v : values) {
      out.push_back(static_cast<char>(v.type));
      out.append(reinterpret_cast<const char*>(&v.number), sizeof v.number);
      out.append(reinterpret_cast<const char*>(v.addr.data()), v.addr.size());
      out.append(v.name);
      out.push_back('\0');
    }
  };
  add(e.key);
  out.push_back('|');
  add(e.key_end);
  return out;
}

}  // namespace

void MembershipTracker::CommitSet(Set& set, const SetDelta& delta) {
  auto& elements = set.elements;
  if (!delta.removed.empty() && positions_.count(&set) == 0) {
    auto& index = positions_[&set];
    index.reserve(elements.size());
    for (std::size_t i = 0; i < elements.size(); ++i) {
      index.emplace(KeyBytes(elements[i]), i);
    }
  }
  const auto indexed = positions_.find(&set);
  for (const Element& r : delta.removed) {
    std::size_t at = elements.size();
    if (indexed != positions_.end()) {
      if (auto p = indexed->second.find(KeyBytes(r)); p != indexed->second.end()) {
        at = p->second;
        indexed->second.erase(p);
      }
    }
    if (at == elements.size() || !SameKey(elements[at], r)) {  // not indexed: look
      const auto e = std::find_if(elements.begin(), elements.end(),
                                  [&](const Element& x) { return SameKey(x, r); });
      if (e == elements.end()) {
        continue;
      }
      at = static_cast<std::size_t>(e - elements.begin());
    }
    // Order is not kept: the last element takes the removed one's place.
    if (at + 1 != elements.size()) {
      elements[at] = std::move(elements.back());
      if (indexed != positions_.end()) {
        indexed->second[KeyBytes(elements[at])] = at;
      }
    }
    elements.pop_back();
  }
  for (const Element& a : delta.set.elements) {
    if (indexed != positions_.end()) {
      indexed->second[KeyBytes(a)] = elements.size();
    }
    elements.push_back(a);
  }
}

void MembershipTracker::Commit(const Plan& plan) {
  for (const SetDelta& d : plan.delta.sets) {
    auto it = sets_.find(std::pair{d.family, d.set.name});
    if (it != sets_.end()) {
      CommitSet(*it->second, d);
    }
  }
  auto& groups = compiled_.membership.groups;
  const auto by_name = [](const ResolvedGroup& x, const std::string& n) { return x.name < n; };
  const auto member_by_name = [](const MemberWorkload& m, const std::string& n) {
    return m.name < n;
  };
  for (const Member& r : plan.removed) {
    auto g = std::lower_bound(groups.begin(), groups.end(), r.group, by_name);
    if (g == groups.end() || g->name != r.group) {
      continue;
    }
    // Members are sorted by name (ResolveMembership, and the inserts below).
    auto m =
        std::lower_bound(g->members.begin(), g->members.end(), r.workload.name, member_by_name);
    if (m != g->members.end() && m->name == r.workload.name) {
      g->members.erase(m);
    }
    if (g->implicit && g->members.empty()) {
      groups.erase(g);
    }
  }
  const policy::Mode global = options_.mode.value_or(policy_->mode);
  for (const Member& a : plan.added) {
    auto g =
        std::lower_bound(groups.begin(), groups.end(), a.group,
                         [](const ResolvedGroup& x, const std::string& n) { return x.name < n; });
    if (g == groups.end() || g->name != a.group) {
      g = groups.insert(g, ImplicitGroup(a.group, global));
    }
    auto pos =
        std::lower_bound(g->members.begin(), g->members.end(), a.workload.name,
                         [](const MemberWorkload& m, const std::string& n) { return m.name < n; });
    g->members.insert(pos, a.workload);
  }
  for (const auto& name : plan.gone) {
    IndexRemove(name);
  }
  for (std::size_t i = 0; i < plan.came.size(); ++i) {
    IndexAdd(plan.came[i], plan.added[i].group);
  }
}

}  // namespace bulkhead::enforcer
