// The parts checks (parts_checks.cc), run by engine_support_test against its server: tiny as the
// default model and avatars64 beside it.
#pragma once

#include <string>

// Counts into check.h's tally. `python` runs the Python client for its reading of a seed's parts
// from the same server.
void RunPartsChecks(const std::string& address, const std::string& python);
