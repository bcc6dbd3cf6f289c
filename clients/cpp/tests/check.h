// The counters and Check() the client test programs share (engine_support_test and the parts
// checks linked into it count into the same tally); each program ends with "N passed, N failed".
#pragma once

#include <cstdio>
#include <string>

#include "avatarforge/types.h"

namespace avatarforge_test {

inline int passed = 0, failed = 0;

inline void Check(bool ok, const std::string& what) {
  ok ? ++passed : ++failed;
  if (!ok) std::printf("FAIL %s\n", what.c_str());
}

// A status as a failure message shows it: "[3] what to fix field=images[0].data".
inline std::string Describe(const avatarforge::Status& s) {
  return "[" + std::to_string(s.code) + "] " + s.message + (s.field.empty() ? "" : " field=" + s.field);
}

}  // namespace avatarforge_test
