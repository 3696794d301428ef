#pragma once
// The GATT client side of one ATT bearer (one connection): the ubluetooth
// gattc_* procedures turned into ATT requests, one outstanding at a time and
// the rest queued, and the server's responses, notifications and
// indications turned into results. No I/O and no timers: the owner sends
// what next_request() gives, feeds every PDU from the server to handle(),
// and calls fail_all() when the ATT transaction timer expires. Every input
// byte is untrusted.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <variant>

#include "att/att_protocol.hpp"
#include "att/uuid.hpp"
#include "core/bytes.hpp"

namespace ubt::gatt {

// The status of a *_DONE result, numbered as MicroPython's NimBLE port
// reports them, so scripts that compare statuses keep working.
namespace status {
constexpr uint16_t Ok = 0;
constexpr uint16_t NotConnected = 7;  // the link ended first
constexpr uint16_t BadData = 10;      // the server's response made no sense
constexpr uint16_t Timeout = 13;      // no response within the ATT transaction timeout
constexpr uint16_t AttBase = 0x100;   // plus the ATT error code the server answered
}  // namespace status

struct ClientEvents {
    std::function<void(uint16_t start, uint16_t end, const att::Uuid& uuid)> service;
    std::function<void(uint16_t status)> services_done;
    // end: the last handle of the characteristic (before the next one, or
    // the end of the searched range).
    std::function<void(uint16_t end, uint16_t value_handle, uint8_t properties, const att::Uuid& uuid)>
        characteristic;
    std::function<void(uint16_t status)> characteristics_done;
    std::function<void(uint16_t handle, const att::Uuid& uuid)> descriptor;
    std::function<void(uint16_t status)> descriptors_done;
    std::function<void(uint16_t handle, ByteView value)> read_result;
    std::function<void(uint16_t handle, uint16_t status)> read_done;
    std::function<void(uint16_t handle, uint16_t status)> write_done;
    std::function<void(uint16_t handle, ByteView value)> notified;
    std::function<void(uint16_t handle, ByteView value)> indicated;
    std::function<void(uint16_t mtu)> mtu_exchanged;
    // The server refused a read or write for want of security (Insufficient
    // Authentication or Encryption). Return true when the link's security
    // is being raised: the request is then held and sent again by
    // security_raised(), once per procedure, as a phone does. Empty or
    // false: the procedure ends with that error.
    std::function<bool(uint8_t att_error)> security_needed = {};
};

class Client {
public:
    // local_mtu: config('mtu'), offered by exchange_mtu().
    Client(uint16_t local_mtu, ClientEvents events);

    // Each queues one procedure. Throws BleError: InvalidArgs for a bad
    // range or value, Busy when kMaxQueued procedures are waiting.
    void discover_services(const std::optional<att::Uuid>& uuid);
    void discover_characteristics(uint16_t start, uint16_t end, const std::optional<att::Uuid>& uuid);
    // The descriptors after start_handle up to end_handle, as MicroPython's
    // NimBLE port reports them (start is normally a characteristic's value handle).
    void discover_descriptors(uint16_t start, uint16_t end);
    // The whole value: a Read, then Read Blobs while the response fills ATT_MTU.
    void read(uint16_t handle);
    // With response: a Write Request, or Prepare and Execute Write for a
    // value longer than ATT_MTU - 3.
    void write(uint16_t handle, ByteView value);
    void exchange_mtu();
    // Write without response: the Write Command PDU, sent at once. Throws
    // BleError(InvalidArgs) for a value longer than ATT_MTU - 3.
    Bytes write_command(uint16_t handle, ByteView value) const;

    // The request to send now: the next step of the procedure in progress
    // or the next queued one, when no request is outstanding.
    std::optional<Bytes> next_request();
    // A PDU from the server that is the client's: a response, an error
    // response, a notification or an indication. Returns the confirmation
    // an indication needs. Anything else is ignored.
    std::optional<Bytes> handle(ByteView pdu);
    // True while a request waits for its response (the ATT transaction timer runs).
    bool awaiting_response() const { return outstanding_.has_value(); }
    // Ends the procedure in progress and every queued one with this status.
    void fail_all(uint16_t status);
    // The link's security changed: a request held for it goes again.
    void security_raised();
    // The link did not get that security (pairing failed): a held request
    // ends with the error the server gave.
    void security_failed();

    uint16_t mtu() const { return mtu_; }
    // The server side of the bearer exchanged the MTU.
    void set_mtu(uint16_t mtu) { mtu_ = std::max(mtu, att::kDefaultMtu); }

    static constexpr size_t kMaxQueued = 64;

private:
    // The handles searched next are kept wider than 16 bits so the end of
    // the handle space cannot wrap around.
    struct DiscoverServices {
        std::optional<att::Uuid> uuid;
        uint32_t next = 1;
    };
    struct DiscoverCharacteristics {
        uint32_t next;
        uint16_t end;
        std::optional<att::Uuid> uuid;
        // A characteristic found but not yet reported: its end is the handle
        // before the next declaration.
        struct Found {
            uint16_t declaration;
            uint16_t value_handle;
            uint8_t properties;
            att::Uuid uuid;
        };
        std::optional<Found> held;
    };
    struct DiscoverDescriptors {
        uint32_t next;
        uint16_t end;
    };
    struct Read {
        uint16_t handle;
        Bytes value;
        bool started = false;
        bool done = false;
        bool secured = false;  // sent again after raising security
    };
    struct Write {
        uint16_t handle;
        Bytes value;
        bool long_write = false;  // Prepare and Execute Write
        size_t sent = 0;          // octets the server has prepared
        size_t sending = 0;       // octets in the Prepare Write in flight
        bool executing = false;
        std::optional<uint16_t> failed;  // the status of a long write being cancelled
        bool done = false;
        bool secured = false;  // sent again after raising security
    };
    struct ExchangeMtu {
        bool done = false;
    };
    using Procedure =
        std::variant<DiscoverServices, DiscoverCharacteristics, DiscoverDescriptors, Read, Write, ExchangeMtu>;

    void enqueue(Procedure p);
    // The next request of a procedure; nullopt when it has completed.
    std::optional<Bytes> request_for(Procedure& p);
    // Feed a response (or an Error Response's code) to the procedure in
    // progress; false when it has ended, its DONE result raised.
    bool on_response(Procedure& p, ByteView params);
    bool on_error(Procedure& p, uint8_t code);
    // Whether to hold the refused request until the link is secured.
    bool hold_for_security(Procedure& p, uint8_t code);
    bool end(Procedure& p, uint16_t status);
    // Raises a procedure's DONE result (and a read's value).
    void finish(Procedure& p, uint16_t status);
    void report_characteristic(DiscoverCharacteristics& d, uint16_t end);

    // False for a response that breaks the protocol.
    bool services_response(DiscoverServices& d, ByteView params);
    bool characteristics_response(DiscoverCharacteristics& d, ByteView params);
    bool descriptors_response(DiscoverDescriptors& d, ByteView params);
    bool write_response(Write& w, ByteView params);

    uint16_t local_mtu_;
    uint16_t mtu_ = att::kDefaultMtu;
    ClientEvents events_;
    std::deque<Procedure> queue_;  // front: the procedure in progress
    bool mtu_requested_ = false;
    // The opcode of the request awaiting its response.
    std::optional<uint8_t> outstanding_;
    Bytes last_request_;
    // A request the server refused for want of security, to send again
    // (by next_request(), once resend_ says the link changed).
    std::optional<Bytes> held_;
    uint8_t held_error_ = 0;
    bool resend_ = false;
};

}  // namespace ubt::gatt
