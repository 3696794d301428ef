#pragma once
// The LE connections of one controller: gap_connect() as central over HCI
// (with its timeout and cancel), connections made to us, gap_disconnect(),
// and the connect, disconnect, parameter-update and encryption events, all
// keyed by the HCI connection handle. The HCI events are the source of
// truth; the kernel channels (Links) only keep the links up. Event-loop
// thread only; borrows the HCI client, the feature cache and the timers.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "core/address.hpp"
#include "core/timers.hpp"
#include "hci/hci_client.hpp"
#include "le_features.hpp"
#include "link.hpp"

namespace ubt::gap {

struct ConnectRequest {
    LeAddress peer;
    uint32_t scan_duration_ms = 2000;  // 0: 30 s, as NimBLE does
    std::optional<uint32_t> min_interval_us;
    std::optional<uint32_t> max_interval_us;
};

struct ConnectionEvents {
    // we_are_central: true for a gap_connect() link (_IRQ_PERIPHERAL_*),
    // false for a central that connected to us (_IRQ_CENTRAL_*).
    std::function<void(bool we_are_central, uint16_t handle, const LeAddress& peer)> connected;
    std::function<void(bool we_are_central, uint16_t handle, const LeAddress& peer)> disconnected;
    std::function<void(const hci::ConnectionUpdate& update)> updated;
    // A connection of ours changed its encryption: a successful (status 0)
    // Encryption Change, v1 or v2 (encrypted = Encryption_Enabled != 0), or
    // Encryption Key Refresh Complete (encrypted = true). Raised for every
    // such event, also when the state is the same as before (a re-encryption
    // may have changed the key or its level). Events for handles we do not
    // know are ignored. An event with a non-zero status is not a change and
    // raises nothing: the link keeps its state (for Encryption Change the
    // kernel then drops the link, e.g. 0x06 when the peer lost its key, and
    // the disconnect is reported as usual; docs/kernel-smp.md, Q3). Empty:
    // nobody is told (the state is still kept, see Connections::encrypted).
    std::function<void(uint16_t handle, bool encrypted)> encryption_changed = {};
};

class Connections {
public:
    // The handle of a connect that failed, timed out or was cancelled:
    // there is no connection, so no real handle (NimBLE reports the same).
    static constexpr uint16_t kNoHandle = 0xffff;
    static constexpr uint32_t kDefaultScanDurationMs = 30000;
    // 7.5 ms to 4 s, in microseconds.
    static constexpr uint32_t kMinIntervalUs = 7500;
    static constexpr uint32_t kMaxIntervalUs = 4000000;

    Connections(hci::HciClient& hci, LeFeatures& features, Timers& timers, ConnectionEvents events);
    ~Connections();
    Connections(const Connections&) = delete;
    Connections& operator=(const Connections&) = delete;

    // Throws what connect() would for a bad or ill-timed request, without
    // doing anything.
    void check(const ConnectRequest& request) const { (void)parameters(request); }
    // Starts connecting as central; PERIPHERAL_CONNECT or (with kNoHandle)
    // PERIPHERAL_DISCONNECT follows. own: public (type 0), or type 1 and the
    // random address to connect from. Throws BleError: InvalidArgs for a bad
    // request, InProgress while another connect is pending, Busy when
    // already connected to the peer, Failed when the controller refuses.
    void connect(const ConnectRequest& request, const LeAddress& own);
    // gap_connect(None). Throws BleError(NotFound) when nothing is pending.
    void cancel();
    // False for a handle that is not connected.
    bool disconnect(uint16_t handle);
    // The kernel channel of a connection.
    void attach(uint16_t handle, std::unique_ptr<Link> link);
    // That channel; nullptr when there is none.
    Link* link(uint16_t handle);

    void on_le_meta(const hci::LeMeta& meta);
    void on_disconnection_complete(ByteView params);
    // An HCI event from the controller's queue: handles Encryption Change
    // (v1 and v2) and Encryption Key Refresh Complete as ConnectionEvents::
    // encryption_changed says, and returns whether the event was one of
    // those codes (malformed ones included, which change nothing). Other
    // events are left alone, so every event may be passed here.
    bool on_encryption_event(const hci::Event& event);
    // Powered off: every connection and attempt has ended.
    void on_power_off();

    bool connecting() const { return attempt_.has_value(); }
    bool connected(uint16_t handle) const { return connections_.count(handle) > 0; }
    // The peer of a connection, as its connection event named it.
    std::optional<LeAddress> peer(uint16_t handle) const {
        auto it = connections_.find(handle);
        if (it == connections_.end()) return std::nullopt;
        return it->second.peer;
    }
    size_t count() const { return connections_.size(); }
    std::vector<uint16_t> handles() const {
        std::vector<uint16_t> out;
        for (const auto& [handle, c] : connections_) out.push_back(handle);
        return out;
    }
    // Whether we made the link (gap_connect); false for unknown handles.
    bool we_are_central(uint16_t handle) const {
        auto it = connections_.find(handle);
        return it != connections_.end() && it->second.we_are_central;
    }
    // Whether the link is encrypted, as the last successful encryption event
    // for it said; false until one comes, and for a handle that is not
    // connected.
    bool encrypted(uint16_t handle) const {
        auto it = connections_.find(handle);
        return it != connections_.end() && it->second.encrypted;
    }

private:
    struct Connection {
        bool we_are_central;
        LeAddress peer;
        std::unique_ptr<Link> link;
        bool encrypted = false;
    };
    struct Attempt {
        LeAddress peer;
        Timers::Id timer;
    };

    hci::ConnectParameters parameters(const ConnectRequest& request) const;
    void on_connection_complete(const hci::ConnectionComplete& c);
    // Ends the pending attempt, cancelling it in the controller if asked,
    // and reports it failed.
    void fail_attempt(bool cancel);
    bool connected_to(const LeAddress& peer) const;

    hci::HciClient& hci_;
    LeFeatures& features_;
    Timers& timers_;
    ConnectionEvents events_;
    std::optional<Attempt> attempt_;
    std::map<uint16_t, Connection> connections_;
    // Channels accepted before their connection's HCI event was read.
    std::map<uint16_t, std::unique_ptr<Link>> unclaimed_links_;
    // A cancel succeeded: the controller's failed Connection Complete for
    // it is still to come, and must not end a newer attempt.
    bool cancel_echo_due_ = false;
    // Peers of attempts whose cancel the controller refused or never
    // answered: it may still complete them.
    std::vector<LeAddress> abandoned_;
    // Late connections to abandoned peers, being ended without events.
    std::set<uint16_t> discarding_;
};

}  // namespace ubt::gap
