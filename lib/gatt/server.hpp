#pragma once
// The GATT server side of one ATT bearer (one connection): takes each PDU a
// client sends and gives the response, byte for byte as the Core spec
// (Vol 3 Part F and G) requires, against the adapter's attribute table.
// Keeps what belongs to the connection: its ATT_MTU, its CCCD values and its
// prepared writes. No I/O; every input byte is untrusted.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "att/att_protocol.hpp"
#include "core/bytes.hpp"
#include "database.hpp"

namespace ubt::gatt {

// What the link has achieved, for the security flags.
struct LinkSecurity {
    bool encrypted = false;
    bool authenticated = false;
};

class Server {
public:
    // Called after a client wrote a characteristic or descriptor value (not a CCCD).
    using WriteHandler = std::function<void(uint16_t handle)>;

    // local_mtu: config('mtu'), offered in an MTU exchange.
    Server(Database& db, uint16_t local_mtu, WriteHandler on_write);

    // One PDU from the client: the PDU to answer with, or nothing (commands,
    // confirmations, anything that gets no answer).
    std::optional<Bytes> handle(ByteView pdu, const LinkSecurity& security);

    uint16_t mtu() const { return mtu_; }
    // This client's Client Characteristic Configuration for a characteristic's CCCD.
    uint16_t cccd(uint16_t cccd_handle) const;

    // Prepared writes kept per connection; more get Prepare Queue Full.
    static constexpr size_t kMaxPreparedWrites = 64;

private:
    struct PreparedWrite {
        uint16_t handle;
        uint16_t offset;
        Bytes value;
    };

    Bytes exchange_mtu(ByteReader& r);
    Bytes find_information(uint8_t opcode, ByteReader& r);
    Bytes find_by_type_value(uint8_t opcode, ByteReader& r);
    Bytes read_by_type(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes read(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes read_blob(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes read_multiple(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes read_by_group_type(uint8_t opcode, ByteReader& r);
    std::optional<Bytes> write(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes prepare_write(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes execute_write(uint8_t opcode, ByteReader& r);

    // The ATT error for reading or writing an attribute over this link; 0
    // when allowed. Reading no attribute at all is Invalid Handle.
    static uint8_t read_error(const Attribute* a, const LinkSecurity& security);
    static uint8_t write_error(const Attribute& a, const LinkSecurity& security);
    // The value a client reads: a CCCD's is this connection's.
    Bytes value_of(const Attribute& a) const;
    // Stores a client's write; false when the value is invalid (a CCCD not 2 bytes).
    bool store(Attribute& a, ByteView value);
    static bool is_cccd(const Attribute& a);

    Database& db_;
    uint16_t local_mtu_;
    uint16_t mtu_ = att::kDefaultMtu;
    WriteHandler on_write_;
    std::map<uint16_t, uint16_t> cccds_;
    std::vector<PreparedWrite> prepared_;
};

// An Error Response PDU.
Bytes error_response(uint8_t request_opcode, uint16_t handle, uint8_t code);

}  // namespace ubt::gatt
