#pragma once
// Pairing, bonding and encryption of one adapter's links. The kernel runs
// SMP; this drives it through mgmt and the links' BT_SECURITY: the config
// keys io, bond, mitm and le_secure, gap_pair and gap_passkey, the kernel's
// pairing questions (answered here for Just Works, raised as
// _IRQ_PASSKEY_ACTION otherwise), the keys it hands out (kept in a
// sm::BondStore and loaded back into the kernel at start), and
// _IRQ_ENCRYPTION_UPDATE. docs/kernel-smp.md has the kernel facts behind
// each choice. Event-loop thread only; borrows everything it is given.

#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config_value.hpp"
#include "core/timers.hpp"
#include "event_queue.hpp"
#include "gap/connections.hpp"
#include "gatt/server.hpp"
#include "mgmt/mgmt_client.hpp"
#include "sm/bond_store.hpp"

namespace ubt::ble {

// The values of the security config keys (MicroPython's defaults).
struct SecurityConfig {
    uint8_t io = 3;  // _IO_CAPABILITY_NO_INPUT_OUTPUT; the SMP numbering, as mgmt's
    bool bond = true;
    bool mitm = false;
    bool le_secure = false;
    bool operator==(const SecurityConfig&) const = default;
};

// A registered handler's own secret store (_IRQ_GET_SECRET, _IRQ_SET_SECRET).
struct SecretKeeper {
    // Stores value under (sec_type, key); an empty value deletes. The
    // handler's answer is only logged.
    std::function<void(uint32_t sec_type, const Bytes& key, const Bytes& value)> set;
    // The index-th secret of sec_type; answer(nullopt) when there is none
    // (or the handler failed). answer may come later, or never.
    std::function<void(uint32_t sec_type, uint32_t index, std::function<void(std::optional<Bytes>)> answer)> get;
};

class Security {
public:
    // The secrets a handler is given: sec_type 1, key the peer's identity
    // (addr_type, then the address most significant octet first), value the
    // bond file's text (sm::encode).
    static constexpr uint32_t kBondSecret = 1;
    // The most secrets read back from a handler at its registration.
    static constexpr uint32_t kMaxHandlerSecrets = 1024;

    // How long a passkey action waits for gap_passkey: the kernel's SMP
    // timeout, after which it has dropped the link anyway.
    static constexpr std::chrono::seconds kPasskeyTimeout{30};
    static constexpr uint32_t kMaxPasskey = 999999;

    // store: where bonds are kept; nullptr keeps them in memory only.
    Security(uint16_t index, uint32_t supported_settings, mgmt::MgmtClient& mgmt, gap::Connections& connections,
             Timers& timers, EventQueue& events, sm::BondStore* store);
    ~Security();
    Security(const Security&) = delete;
    Security& operator=(const Security&) = delete;

    // Gives the kernel our settings and the stored keys (Load LTKs and Load
    // IRKs replace its lists). Trouble is logged, not thrown.
    void start();

    static bool is_config_key(const std::string& key);
    ConfigValue config_get(const std::string& key) const;
    const SecurityConfig& config() const { return config_; }
    // Puts one key's value into `into`; throws BleError (InvalidArgs, or
    // NotSupported for le_secure on a controller without it) and changes nothing.
    void validate(const std::string& key, const ConfigValue& value, SecurityConfig& into) const;
    // Sends a validated config to the kernel; on a refusal, puts the previous
    // one back as far as the kernel lets it and throws BleError (Failed, or
    // Timeout when the kernel did not answer).
    void apply(const SecurityConfig& config);

    // gap_pair: asks the kernel to secure the link. With a stored bond for
    // the peer, at that key's level (encryption, no pairing); otherwise at
    // the level mitm and le_secure want, pairing (and bonding if `bond`).
    // Results come as events. A link already at that level gets an
    // _IRQ_ENCRYPTION_UPDATE with its state at once.
    void pair(uint16_t handle);
    // Our GATT client was refused with this ATT error (Insufficient
    // Authentication or Encryption): pairs or encrypts as pair() does, at
    // least at the level the error asks for. False when that cannot help:
    // the link is already there or has no channel yet, or authentication is
    // wanted and our io (NoInputNoOutput) or the stored key cannot give it.
    bool raise_for_client(uint16_t handle, uint8_t att_error);
    // gap_passkey: the answer to the connection's pending _IRQ_PASSKEY_ACTION.
    void passkey(uint16_t handle, uint32_t action, uint32_t passkey);

    // A bonded peer's identity when `peer` is a resolvable private address
    // one of the stored IRKs resolves; otherwise `peer` itself.
    LeAddress identity_of(const LeAddress& peer) const;
    // The identity addresses of the bonded peers (loaded ones in file name
    // order, then new ones as they bond).
    std::vector<LeAddress> bonds() const;
    // Removes the bond from the kernel (disconnecting the peer) and the store.
    void unpair(const LeAddress& peer);

    // A handler registered (or nullptr: it went). Every bond stored or
    // removed from now on is also given to it; first, its secrets are read
    // back and any valid bond the daemon lacks or holds differently is
    // stored and loaded into the kernel, so a handler that keeps the
    // secrets restores them (after the state directory was lost, say).
    void set_secret_keeper(std::optional<SecretKeeper> keeper);

    // How to take the controller's queued HCI events before deciding that a
    // kernel question names no connection (mgmt events are handled first).
    void set_link_sync(std::function<void()> sync) { sync_links_ = std::move(sync); }
    // Our GATT client waits for security the link did not get: it is told.
    void set_security_failed(std::function<void(uint16_t handle)> failed) { security_failed_ = std::move(failed); }

    // The pairing events of mgmt; false for the others.
    bool on_mgmt_event(const mgmt::Frame& frame);
    // The link's encryption changed (HCI Encryption Change or Key Refresh).
    void encryption_changed(uint16_t handle);
    void link_ended(uint16_t handle);
    // What the GATT server checks the security flags against.
    gatt::LinkSecurity link_security(uint16_t handle);

private:
    struct Asking {  // a pending _IRQ_PASSKEY_ACTION
        uint32_t action;
        mgmt::DeviceAddress peer;
        uint32_t passkey;
        Timers::Id timer;
    };

    void send_config(const SecurityConfig& config);
    void load_keys();
    // The peer as the kernel names it now (its identity once known).
    std::optional<LeAddress> peer_of(uint16_t handle);
    // With sync, the controller's queued HCI events are taken first when no
    // connection matches.
    std::optional<uint16_t> handle_of(const mgmt::DeviceAddress& peer, bool sync = false);
    const sm::Bond* bond_of(const std::optional<LeAddress>& peer) const;
    // Stores the bond and keeps it; false (logged) when the store refused it.
    bool keep(const sm::Bond& bond);
    EncryptionUpdate state(uint16_t handle);
    // Raises _IRQ_ENCRYPTION_UPDATE when the state differs from the last one
    // raised for the link (or always, with force).
    void report(uint16_t handle, bool force);
    // The kernel updates a link's BT_SECURITY level after we see its HCI
    // event: wait for it (a few ms) before reporting.
    void report_when_settled(uint16_t handle, int tries_left);
    void ask(uint16_t handle, uint32_t action, const mgmt::DeviceAddress& peer, uint32_t passkey);
    void forget_asking(uint16_t handle);

    void on_user_confirm(const mgmt::UserConfirmRequest& request);
    void on_passkey_request(const mgmt::DeviceAddress& peer);
    void on_passkey_notify(const mgmt::PasskeyNotify& notify);
    void on_new_ltk(const mgmt::NewLongTermKey& key);
    void on_new_irk(const mgmt::NewIdentityResolvingKey& key);
    void on_unpaired(const mgmt::DeviceAddress& peer);
    // Asks the handler for its index-th secret, then the next.
    void import_secret(uint64_t generation, uint32_t index);
    void tell_keeper(const LeAddress& peer, const Bytes& value);
    // Drops the bond from memory, the handler and the store (not the kernel).
    void forget(const LeAddress& peer);

    uint16_t index_;
    uint32_t supported_settings_;
    mgmt::MgmtClient& mgmt_;
    gap::Connections& connections_;
    Timers& timers_;
    EventQueue& events_;
    sm::BondStore* store_;
    SecurityConfig config_;
    std::vector<sm::Bond> bonds_;
    std::map<uint16_t, Asking> asking_;
    std::map<uint16_t, EncryptionUpdate> reported_;
    std::map<uint16_t, Timers::Id> settling_;
    // What happened on a link that its kernel state does not tell.
    struct LinkState {
        // The peer's identity, from a New IRK, before the link's socket knows it.
        std::optional<LeAddress> identity;
        bool paired = false;  // a pairing ran on this link: a stored key does not speak for it
        bool stored = false;  // and its key was stored
        uint8_t requested = 0;  // the BT_SECURITY level we asked for last
    };
    std::map<uint16_t, LinkState> links_;
    // Handles the controller's queued HCI events (connections we have not seen yet).
    std::function<void()> sync_links_;
    std::function<void(uint16_t handle)> security_failed_;
    std::optional<SecretKeeper> keeper_;
    uint64_t keeper_generation_ = 0;  // answers for an earlier handler are dropped
};

}  // namespace ubt::ble
