// libFuzzer target: HCI event packets, whose advertising reports carry bytes
// from any device in radio range. The codec, the scanner's report handling
// (fragment joining) and the advertiser must neither crash nor read out of bounds.
#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/error.hpp"
#include "gap/advertiser.hpp"
#include "gap/scanner.hpp"
#include "hci/hci_codec.hpp"

namespace {

using namespace ubt;

// Answers every command with success; LE features say "extended".
class AcceptingPort : public hci::HciPort {
public:
    void send(ByteView packet) override {
        Bytes params{0x01, packet[1], packet[2], 0x00};
        if (packet[1] == 0x03 && packet[2] == 0x20) params.insert(params.end(), {0x00, 0x10, 0, 0, 0, 0, 0, 0});
        Bytes event{hci::kEventPacket, hci::ev::CommandComplete, static_cast<uint8_t>(params.size())};
        event.insert(event.end(), params.begin(), params.end());
        reply_ = std::move(event);
    }
    std::optional<Bytes> receive(std::chrono::milliseconds) override {
        if (reply_.empty()) return std::nullopt;
        return std::exchange(reply_, {});
    }

private:
    Bytes reply_;
};

class NoTimers : public Timers {
public:
    Id start(std::chrono::milliseconds, std::function<void()>) override { return 1; }
    void cancel(Id) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ByteView input(data, size);
    if (auto event = hci::decode_event(input)) {
        (void)hci::decode_command_complete(event->params);
        (void)hci::decode_command_status(event->params);
    }
    (void)hci::decode_le_features(input);

    AcceptingPort port;
    hci::HciClient client(port, std::chrono::milliseconds(0));
    NoTimers timers;
    gap::LeFeatures features(client);
    size_t delivered = 0;
    gap::Scanner scanner(client, features, timers, [&](const hci::AdvReport& r) { delivered += r.data.size(); }, [] {});
    gap::Advertiser advertiser(client, features);
    scanner.start({0, 1280000, 11250, true});
    advertiser.advertise({100000, Bytes{}, Bytes{}, true}, {});

    // The input as a sequence of LE meta events: one length byte, then the event.
    ByteReader reader(input);
    while (reader.remaining() > 0) {
        size_t n = reader.u8();
        ByteView chunk = reader.bytes(std::min(n, reader.remaining()));
        if (auto meta = hci::decode_le_meta(chunk)) {
            (void)hci::decode_connection_complete(*meta);
            scanner.on_le_meta(*meta);
            advertiser.on_le_meta(*meta);
        }
    }
    return 0;
}
