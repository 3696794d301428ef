#include "controllers.hpp"

#include <spdlog/spdlog.h>

#include <system_error>

namespace ubt::daemon {

namespace {
constexpr size_t kSignalsPerIteration = 64;
}

Controllers::Controllers(sdbus::IConnection& connection, EventLoop& loop, mgmt::MgmtClient& mgmt,
                         std::set<std::string> allowed, std::string state_dir)
    : connection_(connection),
      loop_(loop),
      mgmt_(mgmt),
      allowed_(std::move(allowed)),
      state_dir_(std::move(state_dir)),
      coc_kernel_(loop) {
    try {
        att_listener_ = std::make_unique<linux_bt::AttListener>(
            loop, [this](const LeAddress& local, uint16_t handle, linux_bt::UniqueFd channel) {
                accepted(local, handle, std::move(channel));
            });
    } catch (const std::system_error& e) {
        spdlog::error("{}: the kernel will drop the links centrals make to us", e.what());
    }
}

void Controllers::accepted(const LeAddress& local, uint16_t handle, linux_bt::UniqueFd channel) {
    for (auto& [index, served] : served_) {
        if (!served.adapter->active() || served.adapter->identity() != local) continue;
        try {
            // The kernel sent this link's HCI events before the channel: take
            // them first, so the channel is not taken for a link that ended
            // earlier with the same handle.
            served.hci->drain_port();
            served.adapter->dispatch_hci_events();
            ble::Adapter* adapter = served.adapter.get();  // outlives the link, which it owns
            auto on_pdu = [adapter, handle, index = index](ByteView pdu) {
                try {
                    adapter->on_att_pdu(handle, pdu);
                } catch (const std::exception& e) {
                    spdlog::error("hci{}: ATT PDU on handle {} not handled: {}", index, handle, e.what());
                }
            };
            adapter->attach_link(handle, std::make_unique<linux_bt::L2capLink>(loop_, std::move(channel), on_pdu));
        } catch (const std::exception& e) {
            spdlog::error("hci{}: the ATT channel of handle {} was not kept: {}", index, handle, e.what());
        }
        return;
    }
    spdlog::warn("an LE link of local address {} (handle {}) is on no controller we serve: its ATT channel is closed",
                 local.address.to_string(), handle);
}

Controllers::~Controllers() {
    for (auto& [index, served] : served_) loop_.unwatch(served.hci_socket->fd());
}

bool Controllers::allowed(uint16_t index) const {
    return allowed_.empty() || allowed_.count("hci" + std::to_string(index)) > 0;
}

void Controllers::start() {
    auto reply = mgmt_.checked(mgmt::read_index_list());
    auto indexes = mgmt::decode_index_list(reply.params);
    if (!indexes) throw std::runtime_error("the kernel sent an unreadable controller index list");
    for (uint16_t index : *indexes) add(index);
}

void Controllers::add(uint16_t index) {
    if (!allowed(index) || served_.count(index)) return;
    auto reply = mgmt_.command(mgmt::read_info(index));
    auto info = reply.ok() ? mgmt::decode_controller_info(reply.params) : std::nullopt;
    if (!info) {
        spdlog::warn("hci{}: skipped: cannot read controller information ({})", index, mgmt::status_name(reply.status));
        return;
    }
    Served s;
    try {
        s.hci_socket = std::make_unique<linux_bt::HciSocket>(index);
    } catch (const std::system_error& e) {
        spdlog::error("hci{}: skipped: {}", index, e.what());
        return;
    }
    s.hci = std::make_unique<hci::HciClient>(*s.hci_socket);
    if (info->address.is_zero()) {
        // Its identity is a static address made up at each start, so a bond
        // would not outlive the daemon anyway.
        spdlog::warn("hci{}: no public address: bonds are kept only while the daemon runs", index);
    } else {
        try {
            s.bonds = std::make_unique<linux_bt::BondFiles>(state_dir_, info->address);
        } catch (const std::exception& e) {
            spdlog::error("hci{}: bonds are kept only while the daemon runs: {}", index, e.what());
        }
    }
    s.adapter = std::make_unique<ble::Adapter>(index, mgmt_, *info, *s.hci, loop_, &coc_kernel_, s.bonds.get());
    s.object = std::make_unique<dbus::BleObject>(connection_, *s.adapter);
    loop_.watch(s.hci_socket->fd(), EPOLLIN, [this, index](uint32_t) {
        auto it = served_.find(index);
        if (it == served_.end()) return;
        try {
            it->second.hci->drain_port();
        } catch (const std::system_error& e) {
            // The controller is going away; Index Removed follows.
            spdlog::warn("hci{}: {}", index, e.what());
            loop_.unwatch(it->second.hci_socket->fd());
        }
    });
    spdlog::info("hci{}: serving controller {} named \"{}\" ({})", index, info->address.to_string(), info->name,
                 s.adapter->active() ? "powered" : "not powered");
    served_.emplace(index, std::move(s));
}

void Controllers::remove(uint16_t index) {
    auto it = served_.find(index);
    if (it == served_.end()) return;
    loop_.unwatch(it->second.hci_socket->fd());
    served_.erase(it);
    spdlog::info("hci{}: removed", index);
}

bool Controllers::dispatch_events(bool may_send) {
    while (auto frame = mgmt_.next_event()) {
        try {
            dispatch(*frame);
        } catch (const std::exception& e) {
            // One event the kernel or bus could not complete must not stop the others.
            spdlog::error("hci{}: mgmt event 0x{:04x} not handled: {}", frame->index, frame->code, e.what());
        }
    }
    bool more = false;
    for (auto& [index, served] : served_) {
        try {
            served.adapter->dispatch_hci_events();
        } catch (const std::exception& e) {
            // The rest stay queued for the next round.
            spdlog::error("hci{}: HCI event not handled: {}", index, e.what());
        }
        if (may_send) more = served.object->flush_events(kSignalsPerIteration) || more;
    }
    return more;
}

void Controllers::dispatch(const mgmt::Frame& frame) {
    switch (frame.code) {
        case mgmt::ev::IndexAdded: add(frame.index); break;
        case mgmt::ev::IndexRemoved: remove(frame.index); break;
        case mgmt::ev::ControllerError:
            spdlog::warn("hci{}: controller error {}", frame.index, hex(frame.params));
            break;
        default:
            if (auto it = served_.find(frame.index); it != served_.end()) it->second.adapter->on_mgmt_event(frame);
    }
}

}  // namespace ubt::daemon
