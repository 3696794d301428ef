#pragma once
// The kernel's side of an LE connection as GAP code sees it: its open ATT
// channel, which keeps the link up (the kernel drops an LE link that no
// channel uses) and carries ATT PDUs. An interface, so the connection logic
// is tested without sockets.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/address.hpp"
#include "core/bytes.hpp"

namespace ubt::gap {

// The link's security as the kernel's BT_SECURITY option gives it.
struct SecurityLevel {
    uint8_t level = 1;     // 1 none, 2 encrypted, 3 authenticated (MITM), 4 authenticated with LE Secure Connections
    uint8_t key_size = 0;  // octets of the encryption key; 0 before encryption
};

// Destroying a Link closes the channel; the kernel may then end the link.
class Link {
public:
    virtual ~Link() = default;
    // Sends one ATT PDU, in order; what the kernel cannot take yet waits in
    // the link. A channel that is gone drops it.
    virtual void send(ByteView pdu) = 0;
    // PDUs waiting for the kernel to take them.
    virtual size_t backlog() const { return 0; }
    // nullopt when the kernel cannot tell (the channel is gone).
    virtual std::optional<SecurityLevel> security() const { return std::nullopt; }
    // Asks the kernel to raise the link to at least `level` (2..4), pairing or
    // encrypting with a stored key. False when the link already has it.
    // Throws BleError(Failed) when the kernel refuses. (The default: a link
    // that cannot be secured, for tests that do not need it.)
    virtual bool request_security(uint8_t level) { return level <= 1; }
    // The peer's address as the kernel names it now: its identity once its
    // IRK is known, otherwise the address it connected with.
    virtual std::optional<LeAddress> peer_address() const { return std::nullopt; }
};

}  // namespace ubt::gap
