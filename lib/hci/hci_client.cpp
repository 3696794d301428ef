#include "hci_client.hpp"

#include <cstdio>
#include <string>

#include "core/error.hpp"

namespace ubt::hci {

CommandResult HciClient::command(ByteView packet) {
    ByteReader header(packet);
    header.u8();
    uint16_t opcode = header.u16le();
    port_.send(packet);
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() < 0) break;
        std::optional<Bytes> raw = port_.receive(left);
        if (!raw) break;
        if (auto result = accept(*raw, opcode)) return *result;
    }
    char name[8];
    std::snprintf(name, sizeof name, "0x%04x", opcode);
    throw BleError(ErrorCode::Timeout, std::string("the controller did not answer HCI command ") + name);
}

CommandResult HciClient::checked(ByteView packet, const char* what) {
    CommandResult result = command(packet);
    if (result.status != 0) {
        throw BleError(ErrorCode::Failed, std::string(what) + " failed: " + status_name(result.status));
    }
    return result;
}

std::optional<CommandResult> HciClient::accept(const Bytes& raw, uint16_t opcode) {
    std::optional<Event> event = decode_event(raw);
    if (!event) return std::nullopt;  // not an event packet we can read: nothing to act on
    if (event->code == ev::CommandComplete) {
        auto cc = decode_command_complete(event->params);
        if (cc && cc->opcode == opcode) {
            // Every command we send returns a status as its first parameter.
            uint8_t status = cc->reply.empty() ? 0xff : cc->reply[0];
            return CommandResult{status, std::move(cc->reply)};
        }
    } else if (event->code == ev::CommandStatus) {
        auto cs = decode_command_status(event->params);
        if (cs && cs->opcode == opcode) return CommandResult{cs->status, {}};
    }
    events_.push_back(std::move(*event));
    return std::nullopt;
}

void HciClient::drain_port() {
    while (std::optional<Bytes> raw = port_.receive(std::chrono::milliseconds(0))) {
        if (auto event = decode_event(*raw)) events_.push_back(std::move(*event));
    }
}

std::optional<Event> HciClient::next_event() {
    if (events_.empty()) return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
}

const char* status_name(uint8_t status) {
    switch (status) {
        case 0x00: return "Success";
        case 0x01: return "Unknown HCI Command";
        case 0x02: return "Unknown Connection Identifier";
        case 0x07: return "Memory Capacity Exceeded";
        case 0x0c: return "Command Disallowed";
        case 0x11: return "Unsupported Feature or Parameter Value";
        case 0x12: return "Invalid HCI Command Parameters";
        case 0xff: return "no status in the reply";
    }
    return "controller error";
}

}  // namespace ubt::hci
