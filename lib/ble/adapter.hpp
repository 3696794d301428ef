#pragma once
// The ubluetooth BLE object of one controller: active() and config() over the
// kernel's mgmt interface, GAP over raw HCI, and the stream of IRQ events.
// Used from the event-loop thread only; borrows the mgmt and HCI clients and
// the timers, which must outlive it.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "att_bearer.hpp"
#include "config_value.hpp"
#include "core/timers.hpp"
#include "event_queue.hpp"
#include "gap/advertiser.hpp"
#include "gap/connections.hpp"
#include "gap/le_features.hpp"
#include "gap/scanner.hpp"
#include "gatt/database.hpp"
#include "gatt/server.hpp"
#include "l2cap_channels.hpp"
#include "hci/hci_client.hpp"
#include "security.hpp"
#include "sm/bond_store.hpp"
#include "mgmt/mgmt_client.hpp"
#include "mgmt/mgmt_codec.hpp"

namespace ubt::ble {

enum class AddrMode : uint8_t { Public = 0, Random = 1, Rpa = 2, Nrpa = 3 };

class Adapter {
public:
    // l2cap_kernel: how channels are opened (borrowed); without it the
    // l2cap_* calls are NotSupported. bonds: where bonds are kept
    // (borrowed); without it they last until the daemon stops.
    Adapter(uint16_t index, mgmt::MgmtClient& mgmt, const mgmt::ControllerInfo& info, hci::HciClient& hci,
            Timers& timers, l2cap::Kernel* l2cap_kernel = nullptr, sm::BondStore* bonds = nullptr);
    ~Adapter();
    Adapter(const Adapter&) = delete;
    Adapter& operator=(const Adapter&) = delete;

    uint16_t index() const { return index_; }
    std::string name() const { return "hci" + std::to_string(index_); }

    bool active() const;
    // Powers the controller with LE on (applying the address mode), or off.
    void set_active(bool on);

    ConfigValue config_get(const std::string& key) const;
    // Checks every value first and changes nothing if any is rejected.
    void config_set(const std::vector<std::pair<std::string, ConfigValue>>& values);

    // gap_advertise(): nullopt stops advertising.
    void gap_advertise(const std::optional<gap::AdvertiseRequest>& request);
    // gap_scan(): nullopt stops a running scan.
    void gap_scan(const std::optional<gap::ScanRequest>& request);
    void gap_connect(const gap::ConnectRequest& request);
    // gap_connect(None).
    void gap_connect_cancel();
    // False when the handle is not connected.
    bool gap_disconnect(uint16_t conn_handle);
    // Pairing and bonding (see Security).
    void gap_pair(uint16_t conn_handle) { security_.pair(conn_handle); }
    void gap_passkey(uint16_t conn_handle, uint32_t action, uint32_t passkey) {
        security_.passkey(conn_handle, action, passkey);
    }
    std::vector<LeAddress> gap_bonds() const { return security_.bonds(); }
    void gap_unpair(const LeAddress& peer) { security_.unpair(peer); }
    // A handler's secret store; nullopt when it goes (see Security).
    void set_secret_keeper(std::optional<SecretKeeper> keeper) { security_.set_secret_keeper(std::move(keeper)); }

    // The address the kernel knows this controller by on LE links: public,
    // or the static random address in addr_mode 1 or without a public one.
    LeAddress identity() const;
    // The kernel's ATT channel of a connection.
    void attach_link(uint16_t conn_handle, std::unique_ptr<gap::Link> link);
    // An ATT PDU the peer sent on that channel, for our GATT server or client.
    void on_att_pdu(uint16_t conn_handle, ByteView pdu);

    // GATT server. Value handles are those gatts_register_services returned;
    // others are InvalidArgs, unknown connections NotFound.
    std::vector<std::vector<uint16_t>> gatts_register_services(const std::vector<gatt::ServiceDef>& services);
    Bytes gatts_read(uint16_t value_handle);
    // Returns how many subscribed clients' links could not take the update.
    size_t gatts_write(uint16_t value_handle, ByteView data, bool send_update);
    // data: nullopt sends the local value.
    void gatts_notify(uint16_t conn_handle, uint16_t value_handle, const std::optional<Bytes>& data);
    void gatts_indicate(uint16_t conn_handle, uint16_t value_handle, const std::optional<Bytes>& data);
    void gatts_set_buffer(uint16_t value_handle, uint32_t len, bool append);
    // nullptr: nobody is asked, reads are allowed (no _IRQ_GATTS_READ_REQUEST).
    void set_read_request_asker(ReadRequestAsker asker);

    // GATT client: results come as events.
    void gattc_discover_services(uint16_t conn_handle, const std::optional<att::Uuid>& uuid);
    void gattc_discover_characteristics(uint16_t conn_handle, uint16_t start, uint16_t end,
                                        const std::optional<att::Uuid>& uuid);
    void gattc_discover_descriptors(uint16_t conn_handle, uint16_t start, uint16_t end);
    void gattc_read(uint16_t conn_handle, uint16_t value_handle);
    // mode 0: without response, 1: with response.
    void gattc_write(uint16_t conn_handle, uint16_t value_handle, ByteView data, uint32_t mode);
    void gattc_exchange_mtu(uint16_t conn_handle);

    // L2CAP connection-oriented channels (see L2capChannels for the errors).
    void l2cap_listen(uint16_t psm, uint16_t mtu);
    void l2cap_connect(uint16_t conn_handle, uint16_t psm, uint16_t mtu);
    void l2cap_disconnect(uint16_t conn_handle, uint16_t cid) { l2cap_.disconnect(conn_handle, cid); }
    bool l2cap_send(uint16_t conn_handle, uint16_t cid, ByteView data) { return l2cap_.send(conn_handle, cid, data); }
    size_t l2cap_available(uint16_t conn_handle, uint16_t cid) const { return l2cap_.available(conn_handle, cid); }
    Bytes l2cap_receive(uint16_t conn_handle, uint16_t cid, size_t max) { return l2cap_.receive(conn_handle, cid, max); }
    // Hands a channel over as a file descriptor (the caller's to close) and
    // the bytes already received that come before what it reads.
    std::pair<int, Bytes> l2cap_release(uint16_t conn_handle, uint16_t cid) { return l2cap_.release(conn_handle, cid); }
    // nullptr: channels the peer asks for are accepted without asking.
    void set_l2cap_accept_asker(L2capAcceptAsker asker) { l2cap_.set_accept_asker(std::move(asker)); }

    // New Settings and Local Name Changed events for this controller.
    void on_mgmt_event(const mgmt::Frame& frame);
    // Handles the HCI events queued so far.
    void dispatch_hci_events();

    // The IRQ events raised so far, oldest first.
    std::optional<IrqEvent> next_event() { return events_.pop(); }
    bool has_events() const { return events_.used() > 0; }
    uint64_t dropped_events() const { return events_.dropped(); }

    static constexpr int64_t kMinMtu = 23;
    static constexpr int64_t kMaxMtu = 517;
    // The largest value or append buffer gatts_write and gatts_set_buffer take.
    static constexpr size_t kMaxValueBuffer = 65535;
    static constexpr int64_t kMinRxbuf = 128;
    static constexpr int64_t kMaxRxbuf = 16 * 1024 * 1024;
    static constexpr size_t kMaxNameLength = mgmt::kNameSize - 1;
    // How long advertising keeps one resolvable private address (the
    // kernel's default, as the Core spec recommends).
    static constexpr std::chrono::minutes kRpaLifetime{15};

private:
    struct Pending;  // a validated config() call, applied in one go
    Pending validate(const std::vector<std::pair<std::string, ConfigValue>>& values) const;
    void apply_address_mode(AddrMode mode);
    // Power-cycles an active controller so the kernel takes the new mode.
    void change_address_mode(AddrMode mode);
    // Runs a command whose reply is Current_Settings and keeps them.
    void settings_command(const mgmt::Frame& cmd);
    bool has_public_address() const { return !public_address_.is_zero(); }
    void require_active(const char* method) const;
    // The address to advertise or connect from in the current addr_mode.
    LeAddress own_address() const;
    void power_changed(uint32_t old_settings);
    // gap_name, and the GAP Device Name characteristic with it.
    void set_gap_name(const std::string& name);
    // In addr_mode 2, moves running advertising to a fresh RPA every kRpaLifetime.
    void schedule_rpa_rotation();
    // The ATT bearer of a connection, made on first use. Throws
    // BleError(NotFound) for a handle that is not connected.
    AttBearer& bearer(uint16_t conn_handle);
    // A GATT client call: the procedure queued, then sent when it can.
    template <typename F>
    void client_call(uint16_t conn_handle, F&& queue);

    uint16_t index_;
    mgmt::MgmtClient& mgmt_;
    Address public_address_;
    uint32_t supported_settings_;
    uint32_t settings_;
    std::string gap_name_;
    std::string short_name_;
    AddrMode addr_mode_;
    Address static_address_;  // from the bond store, or made up and stored; used in Random mode
    std::array<uint8_t, mgmt::kIrkSize> irk_{};  // likewise; given to the kernel in Rpa/Nrpa modes
    int64_t rxbuf_ = 65536;
    int64_t mtu_ = 256;
    hci::HciClient& hci_;
    Timers& timers_;
    Timers::Id rpa_timer_ = 0;
    EventQueue events_{static_cast<size_t>(rxbuf_)};
    gap::LeFeatures features_;
    gap::Scanner scanner_;
    gap::Advertiser advertiser_;
    gap::Connections connections_;
    // The GATT server's table, answered on every link; each connection has
    // its own ATT bearer (shared: a handler's late answer holds a weak one).
    gatt::Database gatt_db_;
    std::map<uint16_t, std::shared_ptr<AttBearer>> bearers_;
    ReadRequestAsker read_asker_;
    L2capChannels l2cap_{timers_, events_};
    Security security_;
};

}  // namespace ubt::ble
