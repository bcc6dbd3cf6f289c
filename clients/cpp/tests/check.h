// The counters and Check() the client test programs share (engine_support_test and the parts
// checks linked into it count into the same tally); each program ends with "N passed, N failed".
#pragma once

#include <cstdio>
#include <string>

namespace avatarforge_test {

inline int passed = 0, failed = 0;

inline void Check(bool ok, const std::string& what) {
  ok ? ++passed : ++failed;
  if (!ok) std::printf("FAIL %s\n", what.c_str());
}

}  // namespace avatarforge_test
