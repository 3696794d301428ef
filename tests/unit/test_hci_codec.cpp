// Byte-exact tests of the HCI codec (Core spec Vol 4 Part E 7.8 and 7.7.65).
#include <catch2/catch.hpp>

#include "fake_hci.hpp"
#include "hci/hci_codec.hpp"

using namespace ubt;
using namespace ubt::hci;

TEST_CASE("LE scan commands encode byte-exact") {
    ScanParameters p;
    p.active = true;
    p.interval = 0x0800;  // 1.28 s
    p.window = 0x0012;    // 11.25 ms
    CHECK(le_set_scan_parameters(p) == Bytes{
        0x01, 0x0b, 0x20, 0x07,  // command packet, opcode 0x200b, 7 parameter bytes
        0x01,                    // active scanning
        0x00, 0x08,              // interval 0x0800
        0x12, 0x00,              // window 0x0012
        0x00,                    // own address: public
        0x00,                    // filter policy: accept all
    });
    CHECK(le_set_scan_enable(true) == Bytes{0x01, 0x0c, 0x20, 0x02, 0x01, 0x00});  // enable, no duplicate filter
    CHECK(le_set_scan_enable(false) == Bytes{0x01, 0x0c, 0x20, 0x02, 0x00, 0x00});
    p.active = false;
    CHECK(le_set_ext_scan_parameters(p) == Bytes{
        0x01, 0x41, 0x20, 0x08,  // opcode 0x2041, 8 parameter bytes
        0x00,                    // own address: public
        0x00,                    // filter policy: accept all
        0x01,                    // PHYs: LE 1M
        0x00,                    // passive
        0x00, 0x08,              // interval
        0x12, 0x00,              // window
    });
    CHECK(le_set_ext_scan_enable(true) == Bytes{
        0x01, 0x42, 0x20, 0x06,  // opcode 0x2042, 6 parameter bytes
        0x01, 0x00,              // enable, no duplicate filter
        0x00, 0x00, 0x00, 0x00,  // no duration, no period
    });
    CHECK(le_read_local_features() == Bytes{0x01, 0x03, 0x20, 0x00});
}

TEST_CASE("HCI events decode and reject bad lengths") {
    const Bytes cc{0x04, 0x0e, 0x04, 0x01, 0x0c, 0x20, 0x0c};  // Command Complete, LE Set Scan Enable, Disallowed
    auto e = decode_event(cc);
    REQUIRE(e);
    CHECK(e->code == ev::CommandComplete);
    auto c = decode_command_complete(e->params);
    REQUIRE(c);
    CHECK(c->opcode == op::LeSetScanEnable);
    CHECK(c->reply == Bytes{0x0c});
    for (size_t n = 0; n < cc.size(); ++n) CHECK_FALSE(decode_event(ByteView(cc).first(n)));
    Bytes longer = cc;
    longer.push_back(0);
    CHECK_FALSE(decode_event(longer));
    CHECK_FALSE(decode_event(Bytes{0x02, 0x0e, 0x00}));  // ACL, not an event

    auto s = decode_command_status(Bytes{0x0c, 0x01, 0x41, 0x20});
    REQUIRE(s);
    CHECK(s->status == 0x0c);
    CHECK(s->opcode == op::LeSetExtScanParameters);
    CHECK_FALSE(decode_command_status(Bytes{0x0c, 0x01, 0x41}));
}

TEST_CASE("LE features: status then an 8-byte mask") {
    CHECK(decode_le_features(Bytes{0x00, 0xff, 0x10, 0, 0, 0, 0, 0, 0x80}) == 0x80000000000010ffull);
    CHECK_FALSE(decode_le_features(Bytes{0x00, 0xff, 0x10}));
    CHECK_FALSE(decode_le_features(Bytes{0x01, 0, 0, 0, 0, 0, 0, 0, 0}));  // failed status
}

namespace {
// One legacy report: ADV_SCAN_IND from random C0:11:22:33:44:55, data 02 01 06, RSSI -60.
const Bytes kLegacyReport{
    0x01,                                // one report
    0x02,                                // ADV_SCAN_IND
    0x01,                                // random address
    0x55, 0x44, 0x33, 0x22, 0x11, 0xc0,  // address, little-endian
    0x03, 0x02, 0x01, 0x06,              // 3 data bytes: Flags
    0xc4,                                // RSSI -60
};

// One extended report; event_type and data given by the test.
Bytes ext_report(uint16_t event_type, const Bytes& data, uint8_t addr_type = 0x00) {
    Bytes b{0x01, static_cast<uint8_t>(event_type), static_cast<uint8_t>(event_type >> 8), addr_type,
            0x01, 0x00, 0x00, 0x01, 0xaa, 0x00,  // address 00:AA:01:00:00:01
            0x01, 0x00,                          // primary PHY 1M, no secondary
            0x05,                                // SID 5
            0x7f,                                // TX power: not available
            0x7f,                                // RSSI 127: not available
            0x00, 0x00,                          // no periodic advertising
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // no direct address
            static_cast<uint8_t>(data.size())};
    for (uint8_t x : data) b.push_back(x);  // (insert trips a GCC 12 false array-bounds warning)
    return b;
}
}  // namespace

TEST_CASE("legacy advertising reports") {
    auto reports = decode_adv_reports(kLegacyReport);
    REQUIRE(reports);
    REQUIRE(reports->size() == 1);
    const AdvReport& r = reports->front();
    CHECK(r.adv_type == 2);
    CHECK(r.addr_type == 1);
    CHECK(r.address.to_string() == "C0:11:22:33:44:55");
    CHECK(r.data == Bytes{0x02, 0x01, 0x06});
    CHECK(r.rssi == -60);
    for (size_t n = 0; n < kLegacyReport.size(); ++n) CHECK_FALSE(decode_adv_reports(ByteView(kLegacyReport).first(n)));
    Bytes bad_type = kLegacyReport;
    bad_type[1] = 0x05;
    CHECK_FALSE(decode_adv_reports(bad_type));
    Bytes two = kLegacyReport;
    two[0] = 2;  // announces a second report that is not there
    CHECK_FALSE(decode_adv_reports(two));
}

TEST_CASE("extended report event types map to ubluetooth adv_type") {
    CHECK(adv_type_of_ext(0x0013) == 0);  // legacy ADV_IND
    CHECK(adv_type_of_ext(0x0015) == 1);  // legacy ADV_DIRECT_IND
    CHECK(adv_type_of_ext(0x0012) == 2);  // legacy ADV_SCAN_IND
    CHECK(adv_type_of_ext(0x0010) == 3);  // legacy ADV_NONCONN_IND
    CHECK(adv_type_of_ext(0x001b) == 4);  // legacy SCAN_RSP to ADV_IND
    CHECK(adv_type_of_ext(0x001a) == 4);  // legacy SCAN_RSP to ADV_SCAN_IND
    CHECK(adv_type_of_ext(0x0001) == 0);  // extended connectable
    CHECK(adv_type_of_ext(0x0000) == 3);  // extended non-connectable, non-scannable
}

TEST_CASE("extended advertising reports") {
    Bytes packet = ext_report(0x0013, {0x02, 0x01, 0x06});
    auto reports = decode_ext_adv_reports(packet);
    REQUIRE(reports);
    REQUIRE(reports->size() == 1);
    CHECK(reports->front().adv_type == 0);
    CHECK(reports->front().addr_type == 0);
    CHECK(reports->front().address.to_string() == "00:AA:01:00:00:01");
    CHECK(reports->front().rssi == 127);
    CHECK(reports->front().sid == 5);
    CHECK(reports->front().data == Bytes{0x02, 0x01, 0x06});
    CHECK_FALSE(reports->front().incomplete);
    for (size_t n = 1; n < packet.size(); ++n) CHECK_FALSE(decode_ext_adv_reports(ByteView(packet).first(n)));

    CHECK(decode_ext_adv_reports(ext_report(0x0020, {0x01}))->front().incomplete);  // more to come
    CHECK(decode_ext_adv_reports(ext_report(0x0013, {}, 0x03))->front().addr_type == 1);  // resolved random identity
    CHECK(decode_ext_adv_reports(ext_report(0x0000, {}, 0xff))->empty());  // anonymous: skipped
}

TEST_CASE("Disconnect and Disconnection Complete") {
    CHECK(disconnect(0x0040, kRemoteUserTerminated) == Bytes{
        0x01, 0x06, 0x04, 0x03,  // opcode 0x0406, 3 parameter bytes
        0x40, 0x00,              // handle 0x0040
        0x13,                    // remote user terminated connection
    });
    const Bytes dc{0x00, 0x41, 0x20, 0x08};  // success, handle 0x041 with flag bits set, supervision timeout
    auto d = decode_disconnection_complete(dc);
    REQUIRE(d);
    CHECK(d->status == 0);
    CHECK(d->handle == 0x0041);  // the top four bits are not part of the handle
    CHECK(d->reason == 0x08);
    for (size_t n = 0; n < dc.size(); ++n) CHECK_FALSE(decode_disconnection_complete(ByteView(dc).first(n)));
    CHECK_FALSE(decode_disconnection_complete(Bytes{0x00, 0x41, 0x00, 0x08, 0x00}));
}

TEST_CASE("LE Connection Complete, legacy and enhanced") {
    const Bytes legacy{
        0x00,                                // success
        0x40, 0x00,                          // handle
        0x01,                                // role: peripheral
        0x01,                                // peer address type: random
        0x55, 0x44, 0x33, 0x22, 0x11, 0xc0,  // peer address
        0x28, 0x00, 0x00, 0x00, 0x2a, 0x00,  // interval, latency, supervision timeout
        0x00,                                // clock accuracy
    };
    auto c = decode_connection_complete({le_ev::ConnectionComplete, legacy});
    REQUIRE(c);
    CHECK(c->handle == 0x0040);
    CHECK(c->role == kRolePeripheral);
    CHECK(c->peer_addr_type == 1);
    CHECK(c->peer == *Address::parse("C0:11:22:33:44:55"));
    for (size_t n = 0; n < legacy.size(); ++n) {
        CHECK_FALSE(decode_connection_complete({le_ev::ConnectionComplete, Bytes(legacy.begin(), legacy.begin() + n)}));
    }
    Bytes enhanced(legacy.begin(), legacy.begin() + 11);
    enhanced[4] = 0x02;  // public identity address, resolved from an RPA
    for (int i = 0; i < 12; ++i) enhanced.push_back(0xee);  // local and peer private addresses
    for (size_t i = 11; i < legacy.size(); ++i) enhanced.push_back(legacy[i]);
    auto e = decode_connection_complete({le_ev::EnhancedConnectionComplete, enhanced});
    REQUIRE(e);
    CHECK(e->peer_addr_type == 0);  // identity types 2 and 3 read as public and random
    CHECK(e->peer == c->peer);
    CHECK_FALSE(decode_connection_complete({le_ev::EnhancedConnectionComplete, legacy}));
    CHECK_FALSE(decode_connection_complete({le_ev::AdvertisingReport, legacy}));
}

TEST_CASE("LE Connection Update Complete") {
    const Bytes u{
        0x00,        // success
        0x40, 0x00,  // handle
        0x18, 0x00,  // interval 30 ms
        0x02, 0x00,  // latency 2
        0x64, 0x00,  // supervision timeout 1 s
    };
    auto d = decode_connection_update({le_ev::ConnectionUpdateComplete, u});
    REQUIRE(d);
    CHECK(d->handle == 0x40);
    CHECK(d->interval == 0x18);
    CHECK(d->latency == 2);
    CHECK(d->supervision_timeout == 0x64);
    CHECK_FALSE(decode_connection_update({le_ev::ConnectionComplete, u}));
    for (size_t n = 0; n < u.size(); ++n) {
        CHECK_FALSE(decode_connection_update({le_ev::ConnectionUpdateComplete, Bytes(u.begin(), u.begin() + n)}));
    }
}

TEST_CASE("LE Create Connection, legacy and extended, and its cancel") {
    ConnectParameters p;
    p.own_address_type = 1;
    p.peer = {0, *Address::parse("00:AA:01:01:00:42")};
    p.min_interval = 0x0018;
    p.max_interval = 0x0320;
    p.supervision_timeout = 0x0191;
    CHECK(le_create_connection(p) == Bytes{
        0x01, 0x0d, 0x20, 0x19,              // opcode 0x200d, 25 parameter bytes
        0x10, 0x00, 0x10, 0x00,              // scan interval and window 10 ms
        0x00,                                // initiator filter policy: the peer given
        0x00,                                // peer address type: public
        0x42, 0x00, 0x01, 0x01, 0xaa, 0x00,  // peer address, little-endian
        0x01,                                // own address type: random
        0x18, 0x00, 0x20, 0x03,              // interval 30 ms to 1 s
        0x00, 0x00,                          // latency
        0x91, 0x01,                          // supervision timeout 4.01 s
        0x00, 0x00, 0x00, 0x00,              // connection event length
    });
    CHECK(le_ext_create_connection(p) == Bytes{
        0x01, 0x43, 0x20, 0x1a,              // opcode 0x2043, 26 parameter bytes
        0x00,                                // initiator filter policy
        0x01,                                // own address type: random
        0x00,                                // peer address type: public
        0x42, 0x00, 0x01, 0x01, 0xaa, 0x00,  // peer address
        0x01,                                // initiating PHYs: LE 1M
        0x10, 0x00, 0x10, 0x00,              // scan interval and window
        0x18, 0x00, 0x20, 0x03,              // interval 30 ms to 1 s
        0x00, 0x00,                          // latency
        0x91, 0x01,                          // supervision timeout
        0x00, 0x00, 0x00, 0x00,              // connection event length
    });
    CHECK(le_create_connection_cancel() == Bytes{0x01, 0x0e, 0x20, 0x00});
}

TEST_CASE("Encryption Change v1: status, 12-bit handle, Encryption_Enabled") {
    const Bytes on{0x00, 0x2a, 0x30, 0x01};  // success, handle 42 with flag bits set, on (AES-CCM)
    auto e = decode_encryption_change(on);
    REQUIRE(e);
    CHECK(e->status == 0x00);
    CHECK(e->handle == 0x002a);  // the top four bits are not part of the handle
    CHECK(e->enabled == 0x01);
    CHECK_FALSE(e->key_size);
    CHECK_FALSE(e->key_refresh);
    for (size_t n = 0; n < on.size(); ++n) CHECK_FALSE(decode_encryption_change(ByteView(on).first(n)));
    CHECK_FALSE(decode_encryption_change(Bytes{0x00, 0x2a, 0x00, 0x01, 0x10}));  // a v2 body is too long for v1

    auto stale = decode_encryption_change(Bytes{0x06, 0xff, 0x0e, 0x00});  // PIN or Key Missing, handle 0xeff
    REQUIRE(stale);
    CHECK(stale->status == 0x06);
    CHECK(stale->handle == 0x0eff);
    CHECK(stale->enabled == 0x00);
    CHECK(decode_encryption_change(Bytes{0x00, 0x01, 0x00, 0x02})->enabled == 0x02);  // BR/EDR AES-CCM
    CHECK(decode_encryption_change(Bytes{0x00, 0x01, 0x00, 0xff})->enabled == 0xff);  // reserved: kept as is

    // As the raw socket delivers it.
    const Bytes packet{0x04, 0x08, 0x04, 0x00, 0x2a, 0x00, 0x01};
    auto event = decode_event(packet);
    REQUIRE(event);
    CHECK(event->code == ev::EncryptionChange);
    auto via = decode_encryption_event(*event);
    REQUIRE(via);
    CHECK(via->handle == 42);
    CHECK(via->enabled == 1);
}

TEST_CASE("Encryption Change v2 adds Encryption_Key_Size") {
    const Bytes v2{0x00, 0x40, 0x00, 0x01, 0x10};  // success, handle 0x040, on, 16-octet key
    auto e = decode_encryption_change_v2(v2);
    REQUIRE(e);
    CHECK(e->status == 0);
    CHECK(e->handle == 0x0040);
    CHECK(e->enabled == 1);
    CHECK(e->key_size == uint8_t{16});
    CHECK_FALSE(e->key_refresh);
    for (size_t n = 0; n < v2.size(); ++n) CHECK_FALSE(decode_encryption_change_v2(ByteView(v2).first(n)));
    CHECK_FALSE(decode_encryption_change_v2(Bytes{0x00, 0x40, 0x00, 0x01, 0x10, 0x00}));
    CHECK(decode_encryption_change_v2(Bytes{0x00, 0x40, 0xf0, 0x00, 0x07})->handle == 0x0040);
    CHECK(decode_encryption_change_v2(Bytes{0x00, 0x40, 0x00, 0x00, 0x07})->key_size == uint8_t{7});

    auto via = decode_encryption_event({ev::EncryptionChangeV2, v2});
    REQUIRE(via);
    CHECK(via->key_size == uint8_t{16});
    CHECK_FALSE(decode_encryption_event({ev::EncryptionChange, v2}));  // v1 is one byte shorter
    CHECK(ev::EncryptionChangeV2 == 0x59);
}

TEST_CASE("Encryption Key Refresh Complete: status and handle, read as still encrypted") {
    const Bytes refresh{0x00, 0x2a, 0x20};  // success, handle 42 with a flag bit set
    auto e = decode_key_refresh_complete(refresh);
    REQUIRE(e);
    CHECK(e->status == 0);
    CHECK(e->handle == 0x002a);
    CHECK(e->enabled == 1);
    CHECK_FALSE(e->key_size);
    CHECK(e->key_refresh);
    for (size_t n = 0; n < refresh.size(); ++n) CHECK_FALSE(decode_key_refresh_complete(ByteView(refresh).first(n)));
    CHECK_FALSE(decode_key_refresh_complete(Bytes{0x00, 0x2a, 0x00, 0x01}));
    CHECK(decode_key_refresh_complete(Bytes{0x3d, 0x2a, 0x00})->status == 0x3d);  // MIC failure

    auto packet = decode_event(Bytes{0x04, 0x30, 0x03, 0x00, 0x2a, 0x00});
    REQUIRE(packet);
    CHECK(packet->code == ev::EncryptionKeyRefreshComplete);
    auto via = decode_encryption_event(*packet);
    REQUIRE(via);
    CHECK(via->key_refresh);
    CHECK(via->handle == 42);
}

TEST_CASE("decode_encryption_event knows only the three encryption events") {
    const Bytes four{0x00, 0x2a, 0x00, 0x01};
    CHECK_FALSE(decode_encryption_event({ev::DisconnectionComplete, four}));
    CHECK_FALSE(decode_encryption_event({ev::LeMeta, four}));
    CHECK_FALSE(decode_encryption_event({0x19, four}));  // shares a filter bit with 0x59
    CHECK_FALSE(decode_encryption_event({ev::EncryptionKeyRefreshComplete, four}));
    CHECK_FALSE(decode_encryption_event({ev::EncryptionChange, {}}));
}
