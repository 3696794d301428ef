#include "options.hpp"

#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <cctype>
#include <cstring>

namespace ubt::daemon {

namespace {

void usage(FILE* out) {
    std::fputs(
        "Usage: ubluetoothd [OPTION]...\n"
        "Serve the MicroPython ubluetooth API for Bluetooth LE controllers over D-Bus.\n\n"
        "  --bus ADDRESS        D-Bus address to serve on instead of the system bus\n"
        "                       (also: environment variable UBLUETOOTHD_BUS)\n"
        "  --adapter hciN       serve only this controller; repeat for more\n"
        "  --log-level LEVEL    trace, debug, info (default), warn or error\n"
        "  --state-dir DIR      keep bonds under DIR (default: $STATE_DIRECTORY, which\n"
        "                       systemd sets, else /var/lib/ubluetoothd)\n"
        "  --help               show this text\n",
        out);
}

[[noreturn]] void bad(const std::string& message) {
    std::fprintf(stderr, "ubluetoothd: %s\n", message.c_str());
    usage(stderr);
    std::exit(2);
}

// "hci" followed by 1 to 5 digits.
bool is_adapter_name(const char* s) {
    if (std::strncmp(s, "hci", 3) != 0) return false;
    size_t digits = std::strlen(s + 3);
    if (digits < 1 || digits > 5) return false;
    for (const char* p = s + 3; *p; ++p) {
        if (!std::isdigit(static_cast<unsigned char>(*p))) return false;
    }
    return true;
}

bool is_log_level(const char* s) {
    for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
        if (std::strcmp(s, level) == 0) return true;
    }
    return false;
}

}  // namespace

Options parse_options(int argc, char** argv) {
    Options o;
    if (const char* env = std::getenv("UBLUETOOTHD_BUS"); env && *env) o.bus_address = env;
    // systemd's StateDirectory= may list several, separated by colons: ours is the first.
    if (const char* env = std::getenv("STATE_DIRECTORY"); env && *env) o.state_dir = std::string(env).substr(0, std::string(env).find(':'));
    static const option long_options[] = {
        {"bus", required_argument, nullptr, 'b'},
        {"adapter", required_argument, nullptr, 'a'},
        {"log-level", required_argument, nullptr, 'l'},
        {"state-dir", required_argument, nullptr, 's'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", long_options, nullptr)) != -1) {
        switch (c) {
            case 'b': o.bus_address = optarg; break;
            case 'a':
                if (!is_adapter_name(optarg)) bad(std::string("not an adapter name: ") + optarg);
                o.adapters.insert(optarg);
                break;
            case 'l':
                if (!is_log_level(optarg)) bad(std::string("not a log level: ") + optarg);
                o.log_level = optarg;
                break;
            case 's':
                if (*optarg != '/') bad(std::string("the state directory must be an absolute path: ") + optarg);
                o.state_dir = optarg;
                break;
            case 'h': usage(stdout); std::exit(0);
            default: bad("unknown option");
        }
    }
    if (optind < argc) bad(std::string("unexpected argument: ") + argv[optind]);
    return o;
}

}  // namespace ubt::daemon
