#pragma once

// RAII owners for libnftnl objects (STYLE.md rule 10), shared by the batch encoder and the
// kernel read-back so each C handle has one owner type.

#include <memory>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

namespace bulkhead::enforcer::internal {

struct TableFree {
  void operator()(nftnl_table* t) const { nftnl_table_free(t); }
};
struct ChainFree {
  void operator()(nftnl_chain* c) const { nftnl_chain_free(c); }
};
struct RuleFree {
  void operator()(nftnl_rule* r) const { nftnl_rule_free(r); }
};
struct SetFree {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};
struct ObjFree {
  void operator()(nftnl_obj* o) const { nftnl_obj_free(o); }
};
struct ExprIterFree {
  void operator()(nftnl_expr_iter* i) const { nftnl_expr_iter_destroy(i); }
};
struct ElemIterFree {
  void operator()(nftnl_set_elems_iter* i) const { nftnl_set_elems_iter_destroy(i); }
};
using TablePtr = std::unique_ptr<nftnl_table, TableFree>;
using ChainPtr = std::unique_ptr<nftnl_chain, ChainFree>;
using RulePtr = std::unique_ptr<nftnl_rule, RuleFree>;
using SetPtr = std::unique_ptr<nftnl_set, SetFree>;
using ObjPtr = std::unique_ptr<nftnl_obj, ObjFree>;
using ExprIterPtr = std::unique_ptr<nftnl_expr_iter, ExprIterFree>;
using ElemIterPtr = std::unique_ptr<nftnl_set_elems_iter, ElemIterFree>;

}  // namespace bulkhead::enforcer::internal
