#pragma once
// A MgmtPort for tests: records what is sent and answers from a script.

#include <deque>
#include <functional>
#include <vector>

#include "mgmt/mgmt_client.hpp"

namespace ubt::test {

class FakeMgmtPort : public mgmt::MgmtPort {
public:
    // Given a command frame, returns the frames the kernel would send back.
    using Responder = std::function<std::vector<Bytes>(const mgmt::Frame&)>;

    void send(ByteView frame) override {
        sent.emplace_back(frame.begin(), frame.end());
        if (responder) {
            for (auto& reply : responder(*mgmt::decode_frame(frame))) incoming.push_back(std::move(reply));
        }
    }

    std::optional<Bytes> receive(std::chrono::milliseconds) override {
        if (incoming.empty()) return std::nullopt;
        Bytes b = std::move(incoming.front());
        incoming.pop_front();
        return b;
    }

    std::vector<Bytes> sent;
    std::deque<Bytes> incoming;
    Responder responder;
};

// A Command Complete frame for opcode on index with the given status and reply.
inline Bytes command_complete(uint16_t index, uint16_t opcode, uint8_t status, const Bytes& reply = {}) {
    ByteWriter w;
    w.u16le(opcode).u8(status).bytes(reply);
    return mgmt::encode_frame({mgmt::ev::CommandComplete, index, w.take()});
}

inline Bytes settings_bytes(uint32_t settings) {
    ByteWriter w;
    w.u32le(settings);
    return w.take();
}

}  // namespace ubt::test
