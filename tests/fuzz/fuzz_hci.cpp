// libFuzzer target: HCI event packets, whose advertising reports carry bytes
// from any device in radio range. The codec, the scanner's report handling
// (fragment joining), the advertiser and the connection table (with connect,
// cancel and disconnect calls mixed in) must neither crash nor read out of
// bounds. Encryption events (Encryption Change v1 and v2, Encryption Key
// Refresh Complete) must only ever be reported for known connections, with
// the state the table then gives.
#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <utility>

#include "core/error.hpp"
#include "gap/advertiser.hpp"
#include "gap/connections.hpp"
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

// Keeps the latest timer so the input can fire it.
class ManualTimers : public Timers {
public:
    Id start(std::chrono::milliseconds, std::function<void()> callback) override {
        callback_ = std::move(callback);
        return ++id_;
    }
    void cancel(Id id) override {
        if (id == id_) callback_ = nullptr;
    }
    void fire() {
        if (auto c = std::exchange(callback_, nullptr)) c();
    }

private:
    Id id_ = 0;
    std::function<void()> callback_;
};

class NoLink : public gap::Link {
public:
    void send(ByteView) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ByteView input(data, size);
    if (auto event = hci::decode_event(input)) {
        (void)hci::decode_command_complete(event->params);
        (void)hci::decode_command_status(event->params);
        (void)hci::decode_encryption_event(*event);
    }
    (void)hci::decode_le_features(input);
    (void)hci::decode_encryption_change(input);
    (void)hci::decode_encryption_change_v2(input);
    (void)hci::decode_key_refresh_complete(input);

    AcceptingPort port;
    // The port answers at once; the timeout only matters when it cannot.
    hci::HciClient client(port, std::chrono::milliseconds(1000));
    ManualTimers timers;
    gap::LeFeatures features(client);
    size_t delivered = 0;
    gap::Scanner scanner(client, features, timers, [&](const hci::AdvReport& r) { delivered += r.data.size(); }, [] {});
    gap::Advertiser advertiser(client, features);
    size_t connection_events = 0;
    gap::Connections* table = nullptr;
    gap::Connections connections(client, features, timers,
                                 {[&](bool, uint16_t, const LeAddress&) { ++connection_events; },
                                  [&](bool, uint16_t, const LeAddress&) { ++connection_events; },
                                  [&](const hci::ConnectionUpdate&) { ++connection_events; },
                                  [&](uint16_t handle, bool encrypted) {
                                      // Only for our connections, and the table agrees.
                                      if (!table->connected(handle) || table->encrypted(handle) != encrypted) {
                                          std::abort();
                                      }
                                      ++connection_events;
                                  }});
    table = &connections;
    scanner.start({0, 1280000, 11250, true});
    advertiser.advertise({100000, Bytes{}, Bytes{}, true}, {});

    // The input as a sequence of steps: a kind byte, a length byte, then
    // that many bytes for an event or call.
    ByteReader reader(input);
    while (reader.remaining() > 1) {
        uint8_t kind = reader.u8();
        size_t n = reader.u8();
        ByteView chunk = reader.bytes(std::min(n, reader.remaining()));
        ByteReader args(chunk);
        try {
            switch (kind % 7) {
                case 0:
                    if (auto meta = hci::decode_le_meta(chunk)) {
                        scanner.on_le_meta(*meta);
                        advertiser.on_le_meta(*meta);
                        connections.on_le_meta(*meta);
                    }
                    break;
                case 1: connections.on_disconnection_complete(chunk); break;
                case 2: {
                    gap::ConnectRequest request;
                    request.peer.type = args.u8();
                    request.peer.address = Address::from_le(args.bytes(6));
                    if (args.ok()) connections.connect(request, {});
                    break;
                }
                case 3: connections.cancel(); break;
                case 4: (void)connections.disconnect(args.u16le()); break;
                case 5:
                    if (chunk.empty()) timers.fire();
                    else connections.attach(args.u16le(), std::make_unique<NoLink>());
                    break;
                case 6: {
                    // An encryption event: the first byte picks the code (the
                    // three we read, and one we must leave alone), the rest
                    // are its parameters.
                    static constexpr uint8_t kCodes[] = {hci::ev::EncryptionChange, hci::ev::EncryptionChangeV2,
                                                         hci::ev::EncryptionKeyRefreshComplete, 0x19};
                    uint8_t pick = args.u8();
                    ByteView params = args.rest();
                    if (!args.ok()) break;
                    hci::Event event{kCodes[pick % 4], Bytes(params.begin(), params.end())};
                    bool claimed = connections.on_encryption_event(event);
                    if (claimed != (pick % 4 != 3)) std::abort();
                    break;
                }
            }
        } catch (const BleError&) {
            // Refused calls are part of the game.
        }
    }
    connections.on_power_off();
    return 0;
}
