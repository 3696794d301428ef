#pragma once
// spdlog set-up: to stderr, with syslog-style "<N>" priority prefixes when
// stderr is the systemd journal (so journald keeps each line's level).

#include <string>

namespace ubt::daemon {

void setup_logging(const std::string& level);

}  // namespace ubt::daemon
