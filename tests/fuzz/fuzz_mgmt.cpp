// libFuzzer target: bytes from the kernel's mgmt socket. Whatever arrives,
// the codec and the client must neither crash nor read out of bounds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

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

// Decoded fields sent back in a command must give the very bytes they came
// from: `encoded` holds `decoded` after `skip` bytes (Load LTKs / Load IRKs: the
// 2-byte count) and nothing else.
void check_round_trip(ByteView decoded, const Bytes& encoded, size_t skip) {
    if (encoded.size() != skip + decoded.size() ||
        !std::equal(decoded.begin(), decoded.end(), encoded.begin() + static_cast<std::ptrdiff_t>(skip))) {
        std::abort();
    }
}

void decode_everything(ByteView params) {
    (void)mgmt::decode_command_complete(params);
    (void)mgmt::decode_command_status(params);
    (void)mgmt::decode_settings(params);
    (void)mgmt::decode_index_list(params);
    (void)mgmt::decode_controller_info(params);
    (void)mgmt::decode_local_name(params);
    if (auto peer = mgmt::decode_device_address(params)) {
        check_round_trip(params, mgmt::user_confirm_reply(0, *peer).params, 0);
    }
    (void)mgmt::decode_device_connected(params);
    (void)mgmt::decode_user_confirm_request(params);
    (void)mgmt::decode_authentication_failed(params);
    if (auto notify = mgmt::decode_passkey_notify(params); notify && notify->passkey <= mgmt::kMaxPasskey) {
        // Address, type and passkey, as User Passkey Reply carries them.
        check_round_trip(params.first(11), mgmt::user_passkey_reply(0, notify->peer, notify->passkey).params, 0);
    }
    if (auto ltk = mgmt::decode_new_long_term_key(params)) {
        check_round_trip(params.subspan(1), mgmt::load_long_term_keys(0, {ltk->key}).params, 2);
    }
    if (auto irk = mgmt::decode_new_identity_resolving_key(params)) {
        check_round_trip(params.subspan(7), mgmt::load_identity_resolving_keys(0, {irk->key}).params, 2);
    }
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
