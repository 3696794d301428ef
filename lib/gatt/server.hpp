#pragma once
// The GATT server side of one ATT bearer (one connection): takes each PDU a
// client sends and gives the response, byte for byte as the Core spec
// (Vol 3 Part F and G) requires, against the adapter's attribute table.
// Keeps what belongs to the connection: its ATT_MTU, its CCCD values and its
// prepared writes. No I/O; every input byte is untrusted.

#include <cstdint>
#include <deque>
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

// What the server tells its owner. Every member may be empty.
struct ServerEvents {
    // A client wrote a characteristic or descriptor value (not a CCCD).
    std::function<void(uint16_t handle)> written;
    std::function<void(uint16_t mtu)> mtu_exchanged;
    // An indication was confirmed (status 0) or failed.
    std::function<void(uint16_t handle, uint16_t status)> indication_done;
};

class Server {
public:
    using WriteHandler = std::function<void(uint16_t handle)>;

    // local_mtu: config('mtu'), offered in an MTU exchange.
    Server(Database& db, uint16_t local_mtu, ServerEvents events);
    Server(Database& db, uint16_t local_mtu, WriteHandler on_write)
        : Server(db, local_mtu, ServerEvents{std::move(on_write), nullptr, nullptr}) {}

    // One PDU from the client: the PDU to send back, or nothing (commands,
    // anything that gets no answer, a request held for the application).
    // A confirmation gives the next queued indication.
    std::optional<Bytes> handle(ByteView pdu, const LinkSecurity& security);

    // While on, a request that reads values of the application's services
    // is held, and held_reads() lists them, until resume() brings the
    // application's answer for each: 0 allows, an ATT error code denies.
    // Requests the client sends meanwhile are dropped (it must wait).
    void ask_before_reads(bool on) { asking_ = on; }
    const std::vector<uint16_t>& held_reads() const { return held_reads_; }
    std::optional<Bytes> resume(const std::map<uint16_t, uint8_t>& answers);

    // A Handle Value Notification, the value cut to ATT_MTU - 3.
    Bytes notification(uint16_t handle, ByteView value) const;
    // Queues an indication; returns its PDU when it can go now (none is
    // awaiting confirmation). Throws BleError(Busy) when kMaxIndications wait.
    std::optional<Bytes> indicate(uint16_t handle, ByteView value);
    bool awaiting_confirmation() const { return !indications_.empty(); }
    // Ends every indication sent or queued with this status.
    void fail_indications(uint16_t status);

    uint16_t mtu() const { return mtu_; }
    // The client side of the bearer exchanged the MTU.
    void set_mtu(uint16_t mtu) { mtu_ = mtu; }
    // This client's Client Characteristic Configuration for a characteristic's CCCD.
    uint16_t cccd(uint16_t cccd_handle) const;
    // The same for the characteristic whose value handle is given; 0 when it has no CCCD.
    uint16_t subscription(uint16_t value_handle) const;

    // Prepared writes kept per connection; more get Prepare Queue Full.
    static constexpr size_t kMaxPreparedWrites = 64;
    static constexpr size_t kMaxIndications = 64;

private:
    struct PreparedWrite {
        uint16_t handle;
        uint16_t offset;
        Bytes value;
    };

    Bytes exchange_mtu(ByteReader& r);
    Bytes find_information(uint8_t opcode, ByteReader& r);
    Bytes find_by_type_value(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes read_by_type(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes read(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes read_blob(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes read_multiple(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes read_by_group_type(uint8_t opcode, ByteReader& r);
    std::optional<Bytes> write(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes prepare_write(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    Bytes execute_write(uint8_t opcode, ByteReader& r);

    std::optional<Bytes> dispatch(uint8_t opcode, ByteReader& r, const LinkSecurity& security);
    // The ATT error for reading or writing an attribute over this link; 0
    // when allowed. Reading no attribute at all is Invalid Handle. Reading
    // an application value while asking notes it in held_reads_, or takes
    // the application's answer.
    uint8_t read_error(const Attribute* a, const LinkSecurity& security);
    static uint8_t write_error(const Attribute& a, const LinkSecurity& security);
    // Whether this link may read the attribute at all (no application asked).
    bool readable(const Attribute& a, const LinkSecurity& security) const;
    // The value a client reads: a CCCD's is this connection's.
    Bytes value_of(const Attribute& a) const;
    // Stores a client's write; false when the value is invalid (a CCCD not 2 bytes).
    bool store(Attribute& a, ByteView value);
    static bool is_cccd(const Attribute& a);

    struct Indication {
        uint16_t handle;
        Bytes value;
    };
    Bytes indication_pdu(const Indication& i) const;
    // A Handle Value Notification or Indication, the value cut to ATT_MTU - 3.
    Bytes handle_value(uint8_t opcode, uint16_t handle, ByteView value) const;

    Database& db_;
    uint16_t local_mtu_;
    uint16_t mtu_ = att::kDefaultMtu;
    ServerEvents events_;
    std::map<uint16_t, uint16_t> cccds_;
    std::vector<PreparedWrite> prepared_;
    // front: the indication sent and awaiting confirmation
    std::deque<Indication> indications_;
    bool asking_ = false;
    // The request held for the application, and the link it came over.
    std::optional<Bytes> held_;
    LinkSecurity held_security_;
    std::vector<uint16_t> held_reads_;
    const std::map<uint16_t, uint8_t>* answers_ = nullptr;  // during resume()
};

// An Error Response PDU.
Bytes error_response(uint8_t request_opcode, uint16_t handle, uint8_t code);

}  // namespace ubt::gatt
