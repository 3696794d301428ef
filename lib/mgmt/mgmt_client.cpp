#include "mgmt_client.hpp"

#include <string>

#include "core/error.hpp"

namespace ubt::mgmt {

Reply MgmtClient::command(const Frame& cmd) {
    port_.send(encode_frame(cmd));
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() < 0) break;
        std::optional<Bytes> raw = port_.receive(left);
        if (!raw) break;
        if (auto reply = accept(*raw, cmd)) return *reply;
    }
    throw BleError(ErrorCode::Timeout,
                   std::string("the kernel did not answer mgmt ") + opcode_name(cmd.code));
}

Reply MgmtClient::checked(const Frame& cmd) {
    Reply reply = command(cmd);
    if (!reply.ok()) {
        throw BleError(ErrorCode::Failed, std::string(opcode_name(cmd.code)) + " failed: " +
                                              status_name(reply.status));
    }
    return reply;
}

std::optional<Reply> MgmtClient::accept(const Bytes& raw, const Frame& cmd) {
    std::optional<Frame> frame = decode_frame(raw);
    if (!frame) {
        ++malformed_;
        return std::nullopt;
    }
    if (frame->index == cmd.index && frame->code == ev::CommandComplete) {
        auto cc = decode_command_complete(frame->params);
        if (!cc) {
            ++malformed_;
            return std::nullopt;
        }
        if (cc->opcode == cmd.code) return Reply{cc->status, std::move(cc->reply)};
    } else if (frame->index == cmd.index && frame->code == ev::CommandStatus) {
        auto cs = decode_command_status(frame->params);
        if (!cs) {
            ++malformed_;
            return std::nullopt;
        }
        if (cs->opcode == cmd.code) return Reply{cs->status, {}};
    }
    events_.push_back(std::move(*frame));
    return std::nullopt;
}

void MgmtClient::drain_port() {
    while (std::optional<Bytes> raw = port_.receive(std::chrono::milliseconds(0))) {
        std::optional<Frame> frame = decode_frame(*raw);
        if (frame) events_.push_back(std::move(*frame));
        else ++malformed_;
    }
}

std::optional<Frame> MgmtClient::next_event() {
    if (events_.empty()) return std::nullopt;
    Frame f = std::move(events_.front());
    events_.pop_front();
    return f;
}

}  // namespace ubt::mgmt
