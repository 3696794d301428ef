// gap_connect(), connections made to us, gap_disconnect() and their events
// over a scripted controller.
#include <catch2/catch.hpp>

#include <string>

#include "core/error.hpp"
#include "error_of.hpp"
#include "fake_hci.hpp"
#include "fake_link.hpp"
#include "gap/connections.hpp"

using namespace ubt;
using test::error_of;
using namespace ubt::hci;

namespace {

const LeAddress kPublicOwn{0, {}};
const LeAddress kPeer{1, *Address::parse("C0:11:22:33:44:55")};
const LeAddress kOther{0, *Address::parse("00:AA:01:01:00:42")};

struct Fixture : test::HciFixture {
    test::FakeTimers timers;
    int open_links = 0;
    std::vector<std::string> events;
    gap::Connections connections{
        hci, features, timers,
        {[this](bool central, uint16_t h, const LeAddress& p) { record(central ? "peripheral_connect" : "central_connect", h, p); },
         [this](bool central, uint16_t h, const LeAddress& p) {
             record(central ? "peripheral_disconnect" : "central_disconnect", h, p);
         },
         [this](const ConnectionUpdate& u) {
             events.push_back("update " + std::to_string(u.handle) + " " + std::to_string(u.interval) + " " +
                              std::to_string(u.latency) + " " + std::to_string(u.supervision_timeout) + " " +
                              std::to_string(u.status));
         },
         [this](uint16_t h, bool encrypted) {
             events.push_back("encryption " + std::to_string(h) + " " + (encrypted ? "on" : "off"));
         }}};

    explicit Fixture(bool extended = false) : HciFixture(extended) {}

    void record(const char* what, uint16_t handle, const LeAddress& peer) {
        events.push_back(std::string(what) + " " + std::to_string(handle) + " " + std::to_string(peer.type) + " " +
                         peer.address.to_string());
    }
    // LE Connection Complete as the controller reports it.
    void complete(uint16_t handle, uint8_t role, const LeAddress& peer, uint8_t status = 0) {
        ByteWriter w;
        w.u8(status).u16le(handle).u8(role).u8(peer.type).bytes(peer.address.to_le());
        w.u16le(0x28).u16le(0).u16le(0x2a).u8(0);
        connections.on_le_meta({le_ev::ConnectionComplete, w.take()});
    }
    void disconnected(uint16_t handle, uint8_t reason = 0x13) {
        ByteWriter w;
        w.u8(0).u16le(handle).u8(reason);
        connections.on_disconnection_complete(w.data());
    }
    // Encryption Change (v1) as the controller reports it.
    bool encryption_change(uint16_t handle, uint8_t enabled, uint8_t status = 0) {
        ByteWriter w;
        w.u8(status).u16le(handle).u8(enabled);
        return connections.on_encryption_event({ev::EncryptionChange, w.take()});
    }
    bool key_refresh(uint16_t handle, uint8_t status = 0) {
        ByteWriter w;
        w.u8(status).u16le(handle);
        return connections.on_encryption_event({ev::EncryptionKeyRefreshComplete, w.take()});
    }
    // What the adapter does with the HCI client's queue.
    void dispatch() {
        while (auto e = hci.next_event()) {
            if (e->code == ev::DisconnectionComplete) connections.on_disconnection_complete(e->params);
            else if (e->code == ev::LeMeta) {
                if (auto meta = decode_le_meta(e->params)) connections.on_le_meta(*meta);
            } else {
                connections.on_encryption_event(*e);
            }
        }
    }
};

gap::ConnectRequest to(const LeAddress& peer, uint32_t duration_ms = 2000) {
    gap::ConnectRequest r;
    r.peer = peer;
    r.scan_duration_ms = duration_ms;
    return r;
}

}  // namespace

TEST_CASE("gap_connect sends LE Create Connection and reports the connection by its handle") {
    Fixture fx;
    fx.connections.connect(to(kPeer, 1500), kPublicOwn);
    hci::ConnectParameters p;
    p.peer = kPeer;
    CHECK(fx.port.sent.back() == le_create_connection(p));  // 30-50 ms, as NimBLE asks by default
    CHECK(fx.connections.connecting());
    REQUIRE(fx.timers.pending.size() == 1);
    CHECK(fx.timers.pending.begin()->second.first == std::chrono::milliseconds(1500));
    fx.complete(0x40, kRoleCentral, kPeer);
    CHECK(fx.events == std::vector<std::string>{"peripheral_connect 64 1 C0:11:22:33:44:55"});
    CHECK_FALSE(fx.connections.connecting());
    CHECK(fx.timers.pending.empty());  // the timeout is over
    fx.connections.attach(0x40, test::FakeLink::make(fx.open_links));  // the kernel's ATT channel
    CHECK(fx.open_links == 1);
    fx.disconnected(0x40, 0x08);
    CHECK(fx.events.back() == "peripheral_disconnect 64 1 C0:11:22:33:44:55");
    CHECK(fx.open_links == 0);
    CHECK(fx.connections.count() == 0);
}

TEST_CASE("extended controllers get LE Extended Create Connection with the asked intervals") {
    Fixture fx(true);
    auto r = to(kPeer);
    r.min_interval_us = 7500;
    r.max_interval_us = 4000000;
    fx.connections.connect(r, kPublicOwn);
    hci::ConnectParameters p;
    p.peer = kPeer;
    p.min_interval = 6;                // 7.5 ms in 1.25 ms units
    p.max_interval = 3200;             // 4 s
    p.supervision_timeout = 801;       // above twice the longest interval: 8.01 s
    CHECK(fx.port.sent.back() == le_ext_create_connection(p));
}

TEST_CASE("a connect from a random address sets it first") {
    Fixture fx;
    const LeAddress own{1, *Address::parse("C5:00:00:00:00:01")};
    fx.connections.connect(to(kPeer), own);
    CHECK(fx.port.opcodes() == std::vector<uint16_t>{op::LeSetRandomAddress, op::LeReadLocalFeatures,
                                                     op::LeCreateConnection});
    CHECK(fx.port.sent[0] == le_set_random_address(own.address));
    CHECK(fx.port.sent.back().at(16) == 0x01);  // own address type: random
}

TEST_CASE("a connect that times out or is cancelled is cancelled in the controller and reported without a handle") {
    Fixture fx;
    fx.connections.connect(to(kPeer), kPublicOwn);
    SECTION("timeout") { fx.timers.fire_all(); }
    SECTION("cancel") {
        fx.connections.cancel();
        CHECK(fx.timers.pending.empty());
    }
    CHECK(fx.port.sent.back() == le_create_connection_cancel());
    CHECK(fx.events == std::vector<std::string>{"peripheral_disconnect 65535 1 C0:11:22:33:44:55"});
    CHECK_FALSE(fx.connections.connecting());
    fx.complete(0x00, kRoleCentral, kPeer, 0x02);  // the controller's echo of the cancel
    CHECK(fx.events.size() == 1);
    CHECK(error_of([&] { fx.connections.cancel(); }) == ErrorCode::NotFound);
}

TEST_CASE("a connect the controller gives up on is reported once, without a cancel") {
    Fixture fx;
    fx.connections.connect(to(kPeer), kPublicOwn);
    size_t sent = fx.port.sent.size();
    fx.complete(0x00, kRoleCentral, kPeer, 0x3e);  // connection failed to be established
    CHECK(fx.events == std::vector<std::string>{"peripheral_disconnect 65535 1 C0:11:22:33:44:55"});
    CHECK(fx.port.sent.size() == sent);
    CHECK(fx.timers.pending.empty());
}

TEST_CASE("a connect the controller refuses is Failed and leaves nothing pending") {
    Fixture fx;
    fx.port.responder = [](ByteView command) {
        Bytes status{0x0c, 0x01, command[1], command[2]};  // Command Disallowed
        return std::vector<Bytes>{test::hci_event(ev::CommandStatus, status)};
    };
    CHECK(error_of([&] { fx.connections.connect(to(kPeer), kPublicOwn); }) == ErrorCode::Failed);
    CHECK_FALSE(fx.connections.connecting());
    CHECK(fx.timers.pending.empty());
}

namespace {
// A controller that refuses LE Create Connection Cancel: the connection
// completed just before it.
void refusing_cancel(Fixture& fx) {
    fx.port.responder = [](ByteView command) {
        uint16_t opcode = static_cast<uint16_t>(command[1] | (command[2] << 8));
        Bytes status{opcode == op::LeCreateConnectionCancel ? uint8_t{0x0c} : uint8_t{0x00}};
        return std::vector<Bytes>{test::command_complete_for(command, status)};
    };
}
}  // namespace

TEST_CASE("a late completion of a connect whose cancel was refused is ended without events") {
    Fixture fx;
    fx.connections.connect(to(kPeer), kPublicOwn);
    refusing_cancel(fx);
    fx.timers.fire_all();
    fx.events.clear();
    fx.complete(0x41, kRoleCentral, kPeer);
    CHECK(fx.port.sent.back() == disconnect(0x41, kRemoteUserTerminated));
    fx.disconnected(0x41);
    CHECK(fx.events.empty());
    CHECK(fx.connections.count() == 0);
}

TEST_CASE("the controller's echo of a cancel does not end a newer attempt") {
    Fixture fx;
    fx.connections.connect(to(kPeer), kPublicOwn);
    fx.connections.cancel();
    fx.connections.connect(to(kPeer), kPublicOwn);  // again, before the echo was read
    fx.complete(0x00, kRoleCentral, kPeer, 0x02);   // the echo: Unknown Connection Identifier
    CHECK(fx.connections.connecting());
    CHECK(fx.events.size() == 1);
    fx.complete(0x42, kRoleCentral, kPeer);
    CHECK(fx.events.back() == "peripheral_connect 66 1 C0:11:22:33:44:55");
}

TEST_CASE("after a cancel the controller took, a later link to that peer is reported") {
    Fixture fx;
    fx.connections.connect(to(kPeer), kPublicOwn);
    fx.connections.cancel();
    fx.complete(0x00, kRoleCentral, kPeer, 0x02);
    fx.complete(0x43, kRoleCentral, kPeer);  // someone else connected it
    CHECK(fx.events.back() == "peripheral_connect 67 1 C0:11:22:33:44:55");
}

TEST_CASE("a link made while our connect is pending is ours, under whatever address the controller names") {
    Fixture fx;
    fx.connections.connect(to(kPeer), kPublicOwn);
    fx.complete(0x44, kRoleCentral, kOther);  // an identity address resolved from the RPA we asked for
    CHECK(fx.events == std::vector<std::string>{"peripheral_connect 68 0 00:AA:01:01:00:42"});
    CHECK_FALSE(fx.connections.connecting());
    CHECK(fx.timers.pending.empty());
}

TEST_CASE("centrals connecting to us: CENTRAL_CONNECT, the accepted channel kept, either arrival order") {
    Fixture fx;
    fx.complete(0x10, kRolePeripheral, kPeer);
    fx.connections.attach(0x10, test::FakeLink::make(fx.open_links));
    fx.connections.attach(0x11, test::FakeLink::make(fx.open_links));  // channel first, HCI event second
    fx.complete(0x11, kRolePeripheral, kOther);
    CHECK(fx.events == std::vector<std::string>{"central_connect 16 1 C0:11:22:33:44:55",
                                                "central_connect 17 0 00:AA:01:01:00:42"});
    CHECK(fx.open_links == 2);
    fx.disconnected(0x11);
    CHECK(fx.events.back() == "central_disconnect 17 0 00:AA:01:01:00:42");
    CHECK(fx.open_links == 1);
    fx.connections.attach(0x12, test::FakeLink::make(fx.open_links));
    fx.disconnected(0x12);  // a channel whose link ended before its event was read
    CHECK(fx.open_links == 1);
}

TEST_CASE("a connection made by someone else on this controller is still reported") {
    Fixture fx;
    fx.complete(0x40, kRoleCentral, kPeer);
    CHECK(fx.events == std::vector<std::string>{"peripheral_connect 64 1 C0:11:22:33:44:55"});
}

TEST_CASE("several connections at once, as central and peripheral") {
    Fixture fx;
    fx.connections.connect(to(kPeer), kPublicOwn);
    fx.complete(0x40, kRoleCentral, kPeer);
    fx.connections.connect(to(kOther), kPublicOwn);
    fx.complete(0x41, kRoleCentral, kOther);
    fx.complete(0x42, kRolePeripheral, {1, *Address::parse("D0:00:00:00:00:01")});
    CHECK(fx.connections.count() == 3);
    fx.disconnected(0x41);
    CHECK(fx.connections.count() == 2);
    CHECK(fx.events.back() == "peripheral_disconnect 65 0 00:AA:01:01:00:42");
}

TEST_CASE("gap_disconnect sends Disconnect for a known handle and answers False otherwise") {
    Fixture fx;
    CHECK_FALSE(fx.connections.disconnect(0x40));
    CHECK(fx.port.sent.empty());
    fx.complete(0x40, kRolePeripheral, kPeer);
    CHECK(fx.connections.disconnect(0x40));
    CHECK(fx.port.sent.back() == disconnect(0x40, 0x13));
    CHECK(fx.connections.count() == 1);  // until the controller reports it
    fx.disconnected(0x40);
    CHECK(fx.events.back() == "central_disconnect 64 1 C0:11:22:33:44:55");
    CHECK_FALSE(fx.connections.disconnect(0x40));
}

TEST_CASE("a Disconnect the controller refuses outright is Failed") {
    Fixture fx;
    fx.complete(0x40, kRolePeripheral, kPeer);
    fx.port.responder = [](ByteView command) {
        Bytes status{0x12, 0x01, command[1], command[2]};  // Invalid HCI Command Parameters
        return std::vector<Bytes>{test::hci_event(ev::CommandStatus, status)};
    };
    CHECK(error_of([&] { fx.connections.disconnect(0x40); }) == ErrorCode::Failed);
    CHECK(fx.connections.count() == 1);
}

TEST_CASE("connect requests are checked before anything is sent") {
    Fixture fx;
    auto bad_type = to(kPeer);
    bad_type.peer.type = 2;
    CHECK(error_of([&] { fx.connections.connect(bad_type, kPublicOwn); }) == ErrorCode::InvalidArgs);
    auto r = to(kPeer);
    r.min_interval_us = 7499;
    CHECK(error_of([&] { fx.connections.connect(r, kPublicOwn); }) == ErrorCode::InvalidArgs);
    r.min_interval_us = 50000;
    r.max_interval_us = 30000;
    CHECK(error_of([&] { fx.connections.connect(r, kPublicOwn); }) == ErrorCode::InvalidArgs);
    r.max_interval_us = 4000001;
    CHECK(error_of([&] { fx.connections.connect(r, kPublicOwn); }) == ErrorCode::InvalidArgs);
    CHECK(fx.port.sent.empty());

    r.max_interval_us.reset();  // only a minimum: used as both
    fx.connections.connect(r, kPublicOwn);
    hci::ConnectParameters p;
    p.peer = kPeer;
    p.min_interval = p.max_interval = 40;
    CHECK(fx.port.sent.back() == le_create_connection(p));
    size_t sent = fx.port.sent.size();
    CHECK(error_of([&] { fx.connections.connect(to(kOther), kPublicOwn); }) == ErrorCode::InProgress);
    fx.complete(0x40, kRoleCentral, kPeer);
    CHECK(error_of([&] { fx.connections.connect(to(kPeer), kPublicOwn); }) == ErrorCode::Busy);
    CHECK(fx.port.sent.size() == sent);
}

TEST_CASE("scan_duration_ms 0 waits 30 s, as NimBLE does") {
    Fixture fx;
    fx.connections.connect(to(kPeer, 0), kPublicOwn);
    CHECK(fx.timers.pending.begin()->second.first == std::chrono::milliseconds(30000));
}

TEST_CASE("connection updates are reported for our connections only") {
    Fixture fx;
    fx.complete(0x40, kRolePeripheral, kPeer);
    const Bytes update{0x00, 0x40, 0x00, 0x18, 0x00, 0x02, 0x00, 0x64, 0x00};
    fx.connections.on_le_meta({le_ev::ConnectionUpdateComplete, update});
    Bytes other = update;
    other[1] = 0x41;
    fx.connections.on_le_meta({le_ev::ConnectionUpdateComplete, other});
    CHECK(fx.events.back() == "update 64 24 2 100 0");
    CHECK(fx.events.size() == 2);
}

TEST_CASE("power off ends every connection and the pending connect, each with its event") {
    Fixture fx;
    fx.complete(0x40, kRolePeripheral, kPeer);
    fx.connections.attach(0x40, test::FakeLink::make(fx.open_links));
    fx.connections.connect(to(kOther), kPublicOwn);
    fx.connections.on_power_off();
    CHECK(fx.events == std::vector<std::string>{"central_connect 64 1 C0:11:22:33:44:55",
                                                "peripheral_disconnect 65535 0 00:AA:01:01:00:42",
                                                "central_disconnect 64 1 C0:11:22:33:44:55"});
    CHECK(fx.connections.count() == 0);
    CHECK(fx.open_links == 0);
    CHECK(fx.timers.pending.empty());
    fx.disconnected(0x40);  // the controller's own report comes later and is not repeated
    CHECK(fx.events.size() == 3);
}

TEST_CASE("malformed connection events change nothing") {
    Fixture fx;
    fx.connections.on_le_meta({le_ev::ConnectionComplete, Bytes{0x00, 0x40}});
    fx.connections.on_disconnection_complete(Bytes{0x00});
    fx.connections.on_le_meta({le_ev::ConnectionUpdateComplete, Bytes{}});
    CHECK(fx.events.empty());
    CHECK(fx.connections.count() == 0);
}

TEST_CASE("Encryption Change reports and keeps the encryption of a known connection") {
    Fixture fx;
    fx.complete(0x40, kRoleCentral, kPeer);
    CHECK_FALSE(fx.connections.encrypted(0x40));  // a new link is not encrypted
    CHECK(fx.encryption_change(0x40, 0x01));
    CHECK(fx.connections.encrypted(0x40));
    CHECK(fx.events.back() == "encryption 64 on");
    CHECK(fx.encryption_change(0x40, 0x01));  // a re-encryption: reported again
    CHECK(fx.events.back() == "encryption 64 on");
    CHECK(fx.encryption_change(0x40, 0x00));  // switched off (BR/EDR can; told as the controller says)
    CHECK_FALSE(fx.connections.encrypted(0x40));
    CHECK(fx.events.back() == "encryption 64 off");
    CHECK(fx.encryption_change(0x40, 0x02));  // any non-zero Encryption_Enabled is on
    CHECK(fx.connections.encrypted(0x40));
    CHECK(fx.events == std::vector<std::string>{"peripheral_connect 64 1 C0:11:22:33:44:55", "encryption 64 on",
                                                "encryption 64 on", "encryption 64 off", "encryption 64 on"});
}

TEST_CASE("Encryption Key Refresh Complete reports the link encrypted") {
    Fixture fx;
    fx.complete(0x10, kRolePeripheral, kPeer);
    fx.encryption_change(0x10, 0x01);
    CHECK(fx.key_refresh(0x10));
    CHECK(fx.events.back() == "encryption 16 on");
    CHECK(fx.events.size() == 3);
    CHECK(fx.connections.encrypted(0x10));
    fx.complete(0x11, kRolePeripheral, kOther);
    fx.key_refresh(0x11);  // a refresh is only possible on an encrypted link: take it as encrypted
    CHECK(fx.connections.encrypted(0x11));
    CHECK(fx.events.back() == "encryption 17 on");
}

TEST_CASE("Encryption Change v2 is read like v1") {
    Fixture fx;
    fx.complete(0x40, kRolePeripheral, kPeer);
    CHECK(fx.connections.on_encryption_event({ev::EncryptionChangeV2, Bytes{0x00, 0x40, 0x00, 0x01, 0x10}}));
    CHECK(fx.connections.encrypted(0x40));
    CHECK(fx.events.back() == "encryption 64 on");
    CHECK(fx.connections.on_encryption_event({ev::EncryptionChangeV2, Bytes{0x06, 0x40, 0x00, 0x00, 0x00}}));
    CHECK(fx.connections.encrypted(0x40));  // failed: not a change
    CHECK(fx.events.size() == 2);
}

TEST_CASE("a failed encryption change or refresh changes nothing and is not reported") {
    Fixture fx;
    fx.complete(0x40, kRoleCentral, kPeer);
    CHECK(fx.encryption_change(0x40, 0x00, 0x06));  // PIN or Key Missing: the peer lost the bond
    CHECK_FALSE(fx.connections.encrypted(0x40));
    CHECK(fx.events.size() == 1);
    fx.encryption_change(0x40, 0x01);
    CHECK(fx.encryption_change(0x40, 0x00, 0x3d));  // Connection Terminated due to MIC Failure
    CHECK(fx.key_refresh(0x40, 0x3d));
    CHECK(fx.connections.encrypted(0x40));
    CHECK(fx.events.size() == 2);
    fx.disconnected(0x40, 0x05);  // the kernel ends the link: that is what gets reported
    CHECK(fx.events.back() == "peripheral_disconnect 64 1 C0:11:22:33:44:55");
}

TEST_CASE("encryption events for handles we do not know are ignored") {
    Fixture fx;
    CHECK(fx.encryption_change(0x40, 0x01));
    CHECK(fx.key_refresh(0x40));
    CHECK_FALSE(fx.connections.encrypted(0x40));
    CHECK(fx.events.empty());
    CHECK(fx.connections.count() == 0);

    fx.complete(0x41, kRolePeripheral, kPeer);
    fx.encryption_change(0x42, 0x01);  // another link, not ours
    CHECK_FALSE(fx.connections.encrypted(0x41));
    CHECK_FALSE(fx.connections.encrypted(0x42));
    CHECK(fx.events.size() == 1);

    // A channel accepted before its connection event: no connection yet.
    fx.connections.attach(0x43, test::FakeLink::make(fx.open_links));
    fx.encryption_change(0x43, 0x01);
    CHECK(fx.events.size() == 1);
    fx.complete(0x43, kRolePeripheral, kOther);
    CHECK_FALSE(fx.connections.encrypted(0x43));
}

TEST_CASE("a late connection being ended quietly raises no encryption event") {
    Fixture fx;
    fx.connections.connect(to(kPeer), kPublicOwn);
    fx.port.responder = [](ByteView command) {
        uint16_t opcode = static_cast<uint16_t>(command[1] | (command[2] << 8));
        Bytes status{opcode == op::LeCreateConnectionCancel ? uint8_t{0x0c} : uint8_t{0x00}};
        return std::vector<Bytes>{test::command_complete_for(command, status)};
    };
    fx.timers.fire_all();
    fx.events.clear();
    fx.complete(0x41, kRoleCentral, kPeer);  // completed after we gave up: being disconnected
    fx.encryption_change(0x41, 0x01);
    CHECK(fx.events.empty());
    CHECK_FALSE(fx.connections.encrypted(0x41));
}

TEST_CASE("the encryption of a connection ends with it; a reused handle starts unencrypted") {
    Fixture fx;
    fx.complete(0x40, kRolePeripheral, kPeer);
    fx.encryption_change(0x40, 0x01);
    fx.disconnected(0x40);
    CHECK_FALSE(fx.connections.encrypted(0x40));
    fx.complete(0x40, kRolePeripheral, kOther);
    CHECK_FALSE(fx.connections.encrypted(0x40));

    fx.encryption_change(0x40, 0x01);
    fx.complete(0x41, kRoleCentral, kPeer);
    fx.encryption_change(0x41, 0x01);
    fx.connections.on_power_off();
    CHECK_FALSE(fx.connections.encrypted(0x40));
    CHECK_FALSE(fx.connections.encrypted(0x41));
    fx.complete(0x41, kRoleCentral, kPeer);
    CHECK_FALSE(fx.connections.encrypted(0x41));
}

TEST_CASE("the encryption state is per connection, and handles lose their flag bits") {
    Fixture fx;
    fx.complete(0x40, kRolePeripheral, kPeer);
    fx.complete(0x41, kRolePeripheral, kOther);
    CHECK(fx.connections.on_encryption_event({ev::EncryptionChange, Bytes{0x00, 0x41, 0x20, 0x01}}));
    CHECK(fx.connections.encrypted(0x41));
    CHECK_FALSE(fx.connections.encrypted(0x40));
    CHECK(fx.events.back() == "encryption 65 on");
}

TEST_CASE("on_encryption_event takes the three encryption codes, malformed or not, and leaves the rest") {
    Fixture fx;
    fx.complete(0x40, kRolePeripheral, kPeer);
    // Malformed: claimed, nothing changes.
    CHECK(fx.connections.on_encryption_event({ev::EncryptionChange, Bytes{0x00, 0x40, 0x00}}));
    CHECK(fx.connections.on_encryption_event({ev::EncryptionChange, Bytes{0x00, 0x40, 0x00, 0x01, 0x10}}));
    CHECK(fx.connections.on_encryption_event({ev::EncryptionChangeV2, Bytes{0x00, 0x40, 0x00, 0x01}}));
    CHECK(fx.connections.on_encryption_event({ev::EncryptionKeyRefreshComplete, Bytes{0x00, 0x40}}));
    CHECK(fx.connections.on_encryption_event({ev::EncryptionKeyRefreshComplete, Bytes{}}));
    CHECK_FALSE(fx.connections.encrypted(0x40));
    // Other events: not ours, not acted on.
    CHECK_FALSE(fx.connections.on_encryption_event({ev::DisconnectionComplete, Bytes{0x00, 0x40, 0x00, 0x13}}));
    CHECK_FALSE(fx.connections.on_encryption_event({0x19, Bytes{0x00, 0x40, 0x00, 0x01}}));  // 0x59's filter twin
    CHECK_FALSE(fx.connections.on_encryption_event({ev::LeMeta, Bytes{}}));
    CHECK(fx.connections.connected(0x40));
    CHECK(fx.events.size() == 1);
}

TEST_CASE("encryption events come through the HCI client's queue in order, also while a command waits") {
    Fixture fx;
    fx.complete(0x40, kRoleCentral, kPeer);
    // The controller reports the encryption just before answering our Disconnect.
    fx.port.responder = [](ByteView command) {
        return std::vector<Bytes>{test::hci_event(ev::EncryptionChange, {0x00, 0x40, 0x00, 0x01}),
                                  test::hci_event(ev::CommandStatus, {0x00, 0x01, command[1], command[2]})};
    };
    CHECK(fx.connections.disconnect(0x40));
    CHECK(fx.events.size() == 1);  // queued, not yet dispatched
    fx.port.incoming.push_back(test::hci_event(ev::EncryptionKeyRefreshComplete, {0x00, 0x40, 0x00}));
    fx.port.incoming.push_back(test::hci_event(ev::DisconnectionComplete, {0x00, 0x40, 0x00, 0x16}));
    fx.port.incoming.push_back(test::hci_event(ev::EncryptionChange, {0x00, 0x40, 0x00, 0x01}));  // too late
    fx.hci.drain_port();
    fx.dispatch();
    CHECK(fx.events == std::vector<std::string>{"peripheral_connect 64 1 C0:11:22:33:44:55", "encryption 64 on",
                                                "encryption 64 on", "peripheral_disconnect 64 1 C0:11:22:33:44:55"});
    CHECK_FALSE(fx.connections.encrypted(0x40));
}

TEST_CASE("without an encryption callback the state is still kept") {
    test::HciFixture hci(false);
    test::FakeTimers timers;
    int connects = 0;
    // Three callbacks, as the adapter gives them: encryption_changed stays empty.
    gap::Connections connections{hci.hci, hci.features, timers,
                                 {[&](bool, uint16_t, const LeAddress&) { ++connects; },
                                  [](bool, uint16_t, const LeAddress&) {}, [](const ConnectionUpdate&) {}}};
    ByteWriter w;
    w.u8(0).u16le(0x40).u8(kRolePeripheral).u8(kPeer.type).bytes(kPeer.address.to_le());
    w.u16le(0x28).u16le(0).u16le(0x2a).u8(0);
    connections.on_le_meta({le_ev::ConnectionComplete, w.take()});
    CHECK(connects == 1);
    CHECK(connections.on_encryption_event({ev::EncryptionChange, Bytes{0x00, 0x40, 0x00, 0x01}}));
    CHECK(connections.encrypted(0x40));
    CHECK(connections.on_encryption_event({ev::EncryptionKeyRefreshComplete, Bytes{0x00, 0x40, 0x00}}));
    CHECK(connections.encrypted(0x40));
}
