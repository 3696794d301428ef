#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "fake_mgmt_port.hpp"

using namespace ubt;
using namespace ubt::mgmt;
using test::command_complete;
using test::FakeMgmtPort;

TEST_CASE("a command returns its own reply and keeps other events for later") {
    FakeMgmtPort port;
    port.responder = [](const Frame& cmd) {
        return std::vector<Bytes>{
            encode_frame({ev::IndexAdded, 3, {}}),                       // unrelated event first
            command_complete(1, cmd.code, status::Success, {0xaa}),      // same opcode, other index
            command_complete(cmd.index, cmd.code, status::Success, {0x01, 0x00, 0x00, 0x00}),
        };
    };
    MgmtClient client(port, std::chrono::milliseconds(10));
    Reply r = client.command(set_powered(0, true));
    CHECK(r.ok());
    CHECK(r.params == Bytes{0x01, 0x00, 0x00, 0x00});
    REQUIRE(port.sent.size() == 1);
    CHECK(port.sent[0] == Bytes{0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01});

    auto first = client.next_event();
    REQUIRE(first);
    CHECK(first->code == ev::IndexAdded);
    CHECK(first->index == 3);
    auto second = client.next_event();
    REQUIRE(second);
    CHECK(second->code == ev::CommandComplete);
    CHECK(second->index == 1);
    CHECK_FALSE(client.next_event());
}

TEST_CASE("a Command Status ends a command with its status") {
    FakeMgmtPort port;
    port.responder = [](const Frame& cmd) {
        ByteWriter w;
        w.u16le(cmd.code).u8(status::Rfkilled);
        return std::vector<Bytes>{encode_frame({ev::CommandStatus, cmd.index, w.take()})};
    };
    MgmtClient client(port, std::chrono::milliseconds(10));
    Reply r = client.command(set_powered(0, true));
    CHECK(r.status == status::Rfkilled);
    CHECK(r.params.empty());
    try {
        client.checked(set_powered(0, true));
        FAIL("checked() must throw on a failed status");
    } catch (const BleError& e) {
        CHECK(e.code() == ErrorCode::Failed);
        CHECK(std::string(e.what()) == "Set Powered failed: RFKilled");
    }
}

TEST_CASE("no answer is a timeout, malformed frames are counted and dropped") {
    FakeMgmtPort port;
    port.responder = [](const Frame&) {
        return std::vector<Bytes>{Bytes{0x01, 0x00}, Bytes{0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x05}};
    };
    MgmtClient client(port, std::chrono::milliseconds(10));
    try {
        client.command(read_info(0));
        FAIL("expected a timeout");
    } catch (const BleError& e) {
        CHECK(e.code() == ErrorCode::Timeout);
    }
    CHECK(client.malformed_frames() == 2);
    CHECK_FALSE(client.next_event());
}

TEST_CASE("drain_port queues what the port has ready") {
    FakeMgmtPort port;
    port.incoming.push_back(encode_frame({ev::IndexRemoved, 0, {}}));
    port.incoming.push_back(Bytes{0xff});
    MgmtClient client(port);
    client.drain_port();
    auto e = client.next_event();
    REQUIRE(e);
    CHECK(e->code == ev::IndexRemoved);
    CHECK(client.malformed_frames() == 1);
}
