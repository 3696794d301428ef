#pragma once
// Command-line options of ubluetoothd.

#include <optional>
#include <set>
#include <string>

namespace ubt::daemon {

struct Options {
    std::optional<std::string> bus_address;  // nullopt: the system bus
    std::set<std::string> adapters;          // empty: every controller
    std::string log_level = "info";
    // Where bonds are kept: --state-dir, else systemd's $STATE_DIRECTORY.
    std::string state_dir = "/var/lib/ubluetoothd";
};

// Exits the process with usage text on --help or a bad option.
Options parse_options(int argc, char** argv);

}  // namespace ubt::daemon
