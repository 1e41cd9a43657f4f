// Small error-propagation helpers for absl::Status / absl::StatusOr.
//
// Debian 12's Abseil (20220623) predates ABSL_RETURN_IF_ERROR and
// ABSL_ASSIGN_OR_RETURN, so the project keeps its own, and HUB_CHECK for
// invariants whose violation would corrupt data: it is never compiled out.
#ifndef HUB_PROTO_STATUS_MACROS_H_
#define HUB_PROTO_STATUS_MACROS_H_

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HUB_STATUS_CONCAT_INNER_(a, b) a##b
#define HUB_STATUS_CONCAT_(a, b) HUB_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` yields a non-OK status.
#define HUB_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status hub_status_ = (expr);       \
    if (!hub_status_.ok()) return hub_status_; \
  } while (false)

// `lhs = value of expr`, or returns its status from the enclosing function.
#define HUB_ASSIGN_OR_RETURN(lhs, expr) \
  HUB_ASSIGN_OR_RETURN_IMPL_(HUB_STATUS_CONCAT_(hub_statusor_, __LINE__), lhs, expr)

#define HUB_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)    \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

// Aborts with a message when an invariant does not hold. Used where carrying
// on would write inconsistent data; it is active in every build type.
#define HUB_CHECK(cond)                                                                   \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (false)

#endif  // HUB_PROTO_STATUS_MACROS_H_
