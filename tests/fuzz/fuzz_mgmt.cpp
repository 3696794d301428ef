// libFuzzer target: bytes from the kernel's mgmt socket. Whatever arrives,
// the codec and the client must neither crash nor read out of bounds.
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "mgmt/mgmt_client.hpp"
#include "mgmt/mgmt_codec.hpp"

namespace {

using namespace ubt;

// Hands the input to the client as a sequence of frames: each chunk is
// prefixed by one length byte.
class InputPort : public mgmt::MgmtPort {
public:
    explicit InputPort(ByteView input) : reader_(input) {}
    void send(ByteView) override {}
    std::optional<Bytes> receive(std::chrono::milliseconds) override {
        if (reader_.remaining() == 0) return std::nullopt;
        size_t n = reader_.u8();
        ByteView chunk = reader_.bytes(std::min(n, reader_.remaining()));
        return Bytes(chunk.begin(), chunk.end());
    }

private:
    ByteReader reader_;
};

void decode_everything(ByteView params) {
    (void)mgmt::decode_command_complete(params);
    (void)mgmt::decode_command_status(params);
    (void)mgmt::decode_settings(params);
    (void)mgmt::decode_index_list(params);
    (void)mgmt::decode_controller_info(params);
    (void)mgmt::decode_local_name(params);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ByteView input(data, size);
    decode_everything(input);
    if (auto frame = mgmt::decode_frame(input)) decode_everything(frame->params);

    InputPort port(input);
    mgmt::MgmtClient client(port, std::chrono::milliseconds(0));
    try {
        (void)client.command(mgmt::read_info(0));
    } catch (const BleError&) {
        // A timeout is the expected end when no matching reply is in the input.
    }
    while (auto event = client.next_event()) decode_everything(event->params);
    return 0;
}
