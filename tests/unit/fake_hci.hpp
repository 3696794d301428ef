#pragma once
// Fakes for HCI tests: a port that answers commands from a script (and,
// through fake_timers.hpp, timers the test fires by hand).

#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "core/timers.hpp"
#include "fake_timers.hpp"
#include "gap/le_features.hpp"
#include "hci/hci_client.hpp"

namespace ubt::test {

class FakeHciPort : public hci::HciPort {
public:
    // Given a command packet, returns the packets the controller sends back.
    using Responder = std::function<std::vector<Bytes>(ByteView command)>;

    void send(ByteView packet) override {
        sent.emplace_back(packet.begin(), packet.end());
        if (responder) {
            for (auto& reply : responder(packet)) incoming.push_back(std::move(reply));
        }
    }
    std::optional<Bytes> receive(std::chrono::milliseconds) override {
        if (incoming.empty()) return std::nullopt;
        Bytes b = std::move(incoming.front());
        incoming.pop_front();
        return b;
    }
    // The opcodes of the commands sent so far.
    std::vector<uint16_t> opcodes() const {
        std::vector<uint16_t> out;
        for (const auto& p : sent) out.push_back(static_cast<uint16_t>(p.at(1) | (p.at(2) << 8)));
        return out;
    }

    std::vector<Bytes> sent;
    std::deque<Bytes> incoming;
    Responder responder;
};

inline Bytes hci_event(uint8_t code, const Bytes& params) {
    Bytes b{hci::kEventPacket, code, static_cast<uint8_t>(params.size())};
    for (uint8_t x : params) b.push_back(x);
    return b;
}

// A Command Complete for the command packet, with the given return parameters.
inline Bytes command_complete_for(ByteView command, const Bytes& reply) {
    Bytes params{0x01, command[1], command[2]};  // one command slot, opcode
    for (uint8_t x : reply) params.push_back(x);
    return hci_event(hci::ev::CommandComplete, params);
}

// A controller that accepts every command; LE features say whether it has
// the extended commands.
inline FakeHciPort::Responder accepting_controller(bool extended) {
    return [extended](ByteView command) {
        uint16_t opcode = static_cast<uint16_t>(command[1] | (command[2] << 8));
        if (opcode == hci::op::LeReadLocalFeatures) {
            Bytes features{0x00, 0, 0, 0, 0, 0, 0, 0, 0};
            if (extended) features[2] = 0x10;  // bit 12: LE Extended Advertising
            return std::vector<Bytes>{command_complete_for(command, features)};
        }
        return std::vector<Bytes>{command_complete_for(command, {0x00})};
    };
}

// A scripted controller with an HCI client and feature cache on top.
struct HciFixture {
    FakeHciPort port;
    hci::HciClient hci{port, std::chrono::milliseconds(10)};
    gap::LeFeatures features{hci};

    explicit HciFixture(bool extended) { port.responder = accepting_controller(extended); }
};


}  // namespace ubt::test
