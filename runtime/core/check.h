// FT_CHECK: the one macro for broken invariants (program bugs, not user errors).
//
// Prints the condition, file:line and the process label (rank and site), then
// aborts the whole MPI job: a rank with a broken invariant must not keep its
// peers waiting in a collective.
#pragma once

#include <sstream>
#include <string>

namespace fedtrain::detail {
[[noreturn]] void check_failed(const char* condition, const char* file, int line, const std::string& message);
}

#define FT_CHECK(cond, ...)                                                              \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::ostringstream ft_check_msg_;                                                  \
      ft_check_msg_ << "" __VA_OPT__(<< __VA_ARGS__);                                    \
      ::fedtrain::detail::check_failed(#cond, __FILE__, __LINE__, ft_check_msg_.str());  \
    }                                                                                    \
  } while (0)
