// ubluetoothd: serves the ubluetooth API of each Bluetooth controller on D-Bus.
// One thread: the epoll loop runs the D-Bus connection, the mgmt socket and
// the signal fd.

#include <poll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>

#include <csignal>
#include <spdlog/spdlog.h>

#include <sdbus-c++/sdbus-c++.h>

#include "controllers.hpp"
#include "core/event_loop.hpp"
#include "dbus/root_object.hpp"
#include "linux/fd.hpp"
#include "linux/mgmt_socket.hpp"
#include "logging.hpp"
#include "options.hpp"

namespace {

constexpr const char* kBusName = "org.ubluetooth";

std::unique_ptr<sdbus::IConnection> open_bus(const ubt::daemon::Options& options) {
    if (options.bus_address) return sdbus::createSessionBusConnectionWithAddress(*options.bus_address);
    return sdbus::createSystemBusConnection();
}

// Milliseconds until an absolute CLOCK_MONOTONIC deadline in microseconds.
int timeout_ms(uint64_t deadline_usec) {
    if (deadline_usec == UINT64_MAX) return -1;
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t now_usec = static_cast<uint64_t>(now.tv_sec) * 1000000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
    if (deadline_usec <= now_usec) return 0;
    return static_cast<int>(std::min<uint64_t>((deadline_usec - now_usec + 999) / 1000, INT32_MAX));
}

ubt::linux_bt::UniqueFd block_termination_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    return ubt::linux_bt::UniqueFd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
}

int serve(const ubt::daemon::Options& options) {
    ubt::linux_bt::UniqueFd signals = block_termination_signals();
    ubt::linux_bt::MgmtSocket mgmt_socket;
    ubt::mgmt::MgmtClient mgmt(mgmt_socket);
    std::unique_ptr<sdbus::IConnection> bus = open_bus(options);

    ubt::EventLoop loop;
    loop.set_timer_error_hook([](const std::exception& e) { spdlog::error("a timer failed: {}", e.what()); });
    ubt::dbus::RootObject root(*bus);
    ubt::daemon::Controllers controllers(*bus, loop, mgmt, options.adapters, options.state_dir);
    controllers.start();
    bus->requestName(kBusName);
    spdlog::info("serving {} on {} with {} adapter(s)", kBusName,
                 options.bus_address ? *options.bus_address : std::string("the system bus"), controllers.count());
    sd_notify(0, "READY=1");

    loop.watch(signals.get(), EPOLLIN, [&](uint32_t) {
        signalfd_siginfo info{};
        if (read(signals.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            spdlog::info("signal {}: stopping", info.ssi_signo);
        }
        loop.quit();
    });
    loop.watch(mgmt_socket.fd(), EPOLLIN, [&](uint32_t) {
        mgmt.drain_port();
        controllers.dispatch_events();
    });
    auto poll = bus->getEventLoopPollData();
    loop.watch(poll.fd, static_cast<uint32_t>(poll.events), [](uint32_t) {});
    loop.set_prepare([&] {
        while (bus->processPendingRequest()) {
        }
        // Method calls may have queued mgmt events while waiting for replies.
        // While the bus socket is still full (POLLOUT wanted), signals wait.
        bool bus_writable = !(bus->getEventLoopPollData().events & POLLOUT);
        bool more = controllers.dispatch_events(bus_writable);
        auto p = bus->getEventLoopPollData();
        loop.modify(p.fd, static_cast<uint32_t>(p.events));
        return more ? 0 : timeout_ms(p.timeout_usec);  // more signals to send: just look at the sockets
    });
    loop.run();

    sd_notify(0, "STOPPING=1");
    bus->releaseName(kBusName);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    ubt::daemon::Options options = ubt::daemon::parse_options(argc, argv);
    ubt::daemon::setup_logging(options.log_level);
    try {
        return serve(options);
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
}
