#include "adapter.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "core/error.hpp"
#include "gap/rpa.hpp"

namespace ubt::ble {

namespace {

[[noreturn]] void invalid(const std::string& message) {
    throw BleError(ErrorCode::InvalidArgs, message);
}

int64_t integer(const std::string& key, const ConfigValue& value, int64_t lo, int64_t hi) {
    const int64_t* v = std::get_if<int64_t>(&value);
    if (!v) invalid("config '" + key + "' takes an integer");
    if (*v < lo || *v > hi) {
        invalid("config '" + key + "' must be between " + std::to_string(lo) + " and " +
                std::to_string(hi) + ", not " + std::to_string(*v));
    }
    return *v;
}

// A static random address: the two most significant bits set, the rest
// random and neither all zeroes nor all ones (Core spec, Vol 6, Part B, 1.3.2.1).
Address random_static_address(std::random_device& rng) {
    Address a;
    for (;;) {
        for (auto& b : a.msb_first) b = static_cast<uint8_t>(rng());
        a.msb_first[0] |= 0xc0;
        bool all_ones = a.msb_first[0] == 0xff;
        bool all_zero_rest = (a.msb_first[0] & 0x3f) == 0;
        for (size_t i = 1; i < 6; ++i) {
            all_ones = all_ones && a.msb_first[i] == 0xff;
            all_zero_rest = all_zero_rest && a.msb_first[i] == 0;
        }
        if (!all_ones && !all_zero_rest) return a;
    }
}

}  // namespace

struct Adapter::Pending {
    std::optional<AddrMode> addr_mode;
    std::optional<std::string> gap_name;
    std::optional<int64_t> rxbuf;
    std::optional<int64_t> mtu;
    std::optional<SecurityConfig> security;
};

Adapter::Adapter(uint16_t index, mgmt::MgmtClient& mgmt, const mgmt::ControllerInfo& info, hci::HciClient& hci,
                 Timers& timers, l2cap::Kernel* l2cap_kernel, sm::BondStore* bonds)
    : index_(index),
      mgmt_(mgmt),
      public_address_(info.address),
      supported_settings_(info.supported_settings),
      settings_(info.current_settings),
      gap_name_(info.name),
      short_name_(info.short_name),
      addr_mode_(info.address.is_zero() ? AddrMode::Random : AddrMode::Public),
      hci_(hci),
      timers_(timers),
      features_(hci),
      scanner_(
          hci, features_, timers,
          [this](const hci::AdvReport& r) {
              events_.push(ScanResult{r.addr_type, r.address, r.adv_type, r.rssi, r.data});
          },
          [this] { events_.push(ScanDone{}); }),
      advertiser_(hci, features_),
      connections_(hci, features_, timers,
                   {[this](bool central, uint16_t handle, const LeAddress& raw) {
                        LeAddress peer = security_.identity_of(raw);  // a bonded peer's RPA resolved
                        PeerEvent e{handle, peer.type, peer.address};
                        if (central) events_.push(PeripheralConnect{e});
                        else events_.push(CentralConnect{e});
                    },
                    [this](bool central, uint16_t handle, const LeAddress& raw) {
                        LeAddress peer = security_.identity_of(raw);
                        l2cap_.link_ended(handle);
                        security_.link_ended(handle);
                        if (auto it = bearers_.find(handle); it != bearers_.end()) {
                            it->second->end();
                            bearers_.erase(it);
                        }
                        PeerEvent e{handle, peer.type, peer.address};
                        if (central) events_.push(PeripheralDisconnect{e});
                        else events_.push(CentralDisconnect{e});
                    },
                    [this](const hci::ConnectionUpdate& u) {
                        events_.push(ConnectionUpdate{u.handle, u.interval, u.latency, u.supervision_timeout, u.status});
                    },
                    [this](uint16_t handle, bool) {
                        security_.encryption_changed(handle);
                        if (auto it = bearers_.find(handle); it != bearers_.end()) it->second->security_changed();
                    }}),
      security_(index, info.supported_settings, mgmt, connections_, timers, events_, bonds) {
    gatt_db_.build({}, gap_name_);
    l2cap_.set_kernel(l2cap_kernel);
    auto sync_links = [this] {
        try {
            hci_.drain_port();
            dispatch_hci_events();
        } catch (const std::exception&) {
            // The controller is going away, or an event failed: judge by what is known.
        }
    };
    l2cap_.set_link_check([this, sync_links](uint16_t conn_handle) {
        sync_links();
        return connections_.connected(conn_handle);
    });
    security_.set_link_sync(sync_links);
    security_.set_security_failed([this](uint16_t handle) {
        if (auto it = bearers_.find(handle); it != bearers_.end()) it->second->security_failed();
    });
    std::random_device rng;
    static_address_ = random_static_address(rng);
    for (auto& b : irk_) b = static_cast<uint8_t>(rng());
    if (bonds) {
        // Bonded peers know us by this static address and IRK: the store keeps them.
        bool store_new = true;
        try {
            if (auto stored = bonds->load_identity()) {
                static_address_ = stored->static_address;
                irk_ = stored->irk;
                store_new = false;
            }
        } catch (const BleError& e) {
            // A bad file is replaced; one that could not be read is left alone.
            store_new = e.code() == ErrorCode::InvalidArgs;
            spdlog::error("hci{}: stored identity not used: {}; {}", index, e.what(),
                          store_new ? "replaced by a new one" : "a new one is used until the daemon stops");
        } catch (const std::exception& e) {
            store_new = false;
            spdlog::error("hci{}: stored identity not used: {}; a new one is used until the daemon stops", index, e.what());
        }
        if (store_new) {
            try {
                bonds->store_identity({static_address_, irk_});
                spdlog::info("hci{}: new identity stored (static address {})", index, static_address_.to_string());
            } catch (const std::exception& e) {
                spdlog::error("hci{}: identity not stored, so peers bonding now will not know us after a restart: {}",
                              index, e.what());
            }
        }
    }
    security_.start();
    if (active() && (settings_ & mgmt::setting::Privacy)) {
        // Left powered with privacy on (by a daemon that ran in addr_mode 2,
        // or another tool): the kernel would pair with an address we do not
        // use. Start from our own mode, as a fresh BLE object does.
        try {
            change_address_mode(addr_mode_);
            spdlog::info("hci{}: privacy was on: restarted the radio in addr_mode {}", index, static_cast<int>(addr_mode_));
        } catch (const std::exception& e) {
            spdlog::error("hci{}: privacy was on and could not be turned off: {}", index, e.what());
        }
    }
}

Adapter::~Adapter() { timers_.cancel(rpa_timer_); }

bool Adapter::active() const { return (settings_ & mgmt::setting::Powered) != 0; }

void Adapter::settings_command(const mgmt::Frame& cmd) {
    uint32_t old_settings = settings_;
    auto reply = mgmt_.checked(cmd);
    if (auto s = mgmt::decode_settings(reply.params)) {
        settings_ = *s;
    } else {
        // A reply we cannot read: ask for the settings instead of guessing them.
        auto info = mgmt::decode_controller_info(mgmt_.checked(mgmt::read_info(index_)).params);
        if (!info) throw BleError(ErrorCode::Failed, "the kernel sent an unreadable controller information reply");
        settings_ = info->current_settings;
    }
    power_changed(old_settings);
}

// Whatever powered the controller off also ended what ran on it.
void Adapter::power_changed(uint32_t old_settings) {
    if ((old_settings & mgmt::setting::Powered) && !active()) {
        scanner_.on_power_off();
        advertiser_.on_power_off();
        connections_.on_power_off();
        l2cap_.stop();
        features_.forget();
    }
}

void Adapter::require_active(const char* method) const {
    if (!active()) {
        throw BleError(ErrorCode::NotActive, std::string(method) + " needs the radio active: call active(True) first");
    }
}

void Adapter::set_active(bool on) {
    if (!on) {
        if (active()) {
            scanner_.stop();
            advertiser_.stop();
            settings_command(mgmt::set_powered(index_, false));
        }
        return;
    }
    if (!(supported_settings_ & mgmt::setting::LowEnergy)) {
        throw BleError(ErrorCode::NotSupported, name() + " does not support Bluetooth Low Energy");
    }
    if (!(settings_ & mgmt::setting::LowEnergy)) settings_command(mgmt::set_low_energy(index_, true));
    if (!active()) {
        apply_address_mode(addr_mode_);
        settings_command(mgmt::set_powered(index_, true));
    }
}

// Needs the controller powered off: the kernel accepts these commands only then.
void Adapter::apply_address_mode(AddrMode mode) {
    bool want_privacy = mode == AddrMode::Rpa || mode == AddrMode::Nrpa;
    std::array<uint8_t, mgmt::kIrkSize> no_irk{};
    settings_command(mgmt::set_privacy(index_, want_privacy ? 1 : 0, want_privacy ? irk_ : no_irk));
    // The kernel uses the static address only on a controller without a
    // public address or with BR/EDR off; ubluetooth is LE only.
    if (mode == AddrMode::Random && (settings_ & mgmt::setting::BrEdr)) {
        settings_command(mgmt::set_bredr(index_, false));
    }
    bool use_static = mode == AddrMode::Random || !has_public_address();
    settings_command(mgmt::set_static_address(index_, use_static ? static_address_ : Address{}));
}

void Adapter::change_address_mode(AddrMode mode) {
    if (!active()) {
        addr_mode_ = mode;  // applied by the next active(True)
        return;
    }
    scanner_.stop();
    advertiser_.stop();
    settings_command(mgmt::set_powered(index_, false));
    try {
        apply_address_mode(mode);
    } catch (const BleError&) {
        // Put the old mode and the power back, as far as the kernel lets us.
        try {
            apply_address_mode(addr_mode_);
        } catch (const BleError&) {
        }
        try {
            settings_command(mgmt::set_powered(index_, true));
        } catch (const BleError&) {
        }
        throw;
    }
    addr_mode_ = mode;
    settings_command(mgmt::set_powered(index_, true));
}

LeAddress Adapter::identity() const {
    if (addr_mode_ == AddrMode::Random || !has_public_address()) return {1, static_address_};
    return {0, public_address_};
}

ConfigValue Adapter::config_get(const std::string& key) const {
    if (key == "mac") {
        require_active("config('mac')");
        LeAddress id = identity();
        return MacValue{id.type, id.address};
    }
    if (key == "addr_mode") return static_cast<int64_t>(addr_mode_);
    if (key == "gap_name") return gap_name_;
    if (key == "rxbuf") return rxbuf_;
    if (key == "mtu") return mtu_;
    if (Security::is_config_key(key)) return security_.config_get(key);
    invalid("unknown config key '" + key + "'");
}

Adapter::Pending Adapter::validate(const std::vector<std::pair<std::string, ConfigValue>>& values) const {
    if (values.empty()) invalid("config() needs at least one name=value");
    Pending p;
    for (const auto& [key, value] : values) {
        if (key == "addr_mode") {
            auto mode = static_cast<AddrMode>(integer(key, value, 0, 3));
            if (mode == AddrMode::Public && !has_public_address()) {
                throw BleError(ErrorCode::NotSupported, name() + " has no public address; use addr_mode 1, 2 or 3");
            }
            p.addr_mode = mode;
        } else if (key == "gap_name") {
            const std::string* s = std::get_if<std::string>(&value);
            if (!s) invalid("config 'gap_name' takes a string");
            if (s->size() > kMaxNameLength) invalid("config 'gap_name' is longer than " + std::to_string(kMaxNameLength) + " bytes");
            if (s->find('\0') != std::string::npos) invalid("config 'gap_name' must not contain a NUL byte");
            p.gap_name = *s;
        } else if (key == "rxbuf") {
            p.rxbuf = integer(key, value, kMinRxbuf, kMaxRxbuf);
        } else if (key == "mtu") {
            p.mtu = integer(key, value, kMinMtu, kMaxMtu);
        } else if (key == "mac") {
            invalid("config 'mac' can only be read");
        } else if (Security::is_config_key(key)) {
            if (!p.security) p.security = security_.config();
            security_.validate(key, value, *p.security);
        } else {
            invalid("unknown config key '" + key + "'");
        }
    }
    return p;
}

void Adapter::config_set(const std::vector<std::pair<std::string, ConfigValue>>& values) {
    Pending p = validate(values);
    std::string old_name = gap_name_;
    SecurityConfig old_security = security_.config();
    if (p.security) security_.apply(*p.security);
    try {
        if (p.gap_name) {
            mgmt_.checked(mgmt::set_local_name(index_, *p.gap_name, short_name_));
            set_gap_name(*p.gap_name);
        }
        if (p.addr_mode && *p.addr_mode != addr_mode_) change_address_mode(*p.addr_mode);
    } catch (const BleError&) {
        // The call failed: leave what it changed as it was.
        if (p.gap_name && gap_name_ != old_name) {
            mgmt_.command(mgmt::set_local_name(index_, old_name, short_name_));
            set_gap_name(old_name);
        }
        if (p.security) {
            try {
                security_.apply(old_security);
            } catch (const BleError&) {
                // apply() has logged it.
            }
        }
        throw;
    }
    if (p.rxbuf) {
        rxbuf_ = *p.rxbuf;
        events_.set_capacity(static_cast<size_t>(rxbuf_));
    }
    if (p.mtu) mtu_ = *p.mtu;
}

LeAddress Adapter::own_address() const {
    std::random_device rng;
    switch (addr_mode_) {
        case AddrMode::Public: return {0, {}};
        case AddrMode::Random: return {1, static_address_};
        case AddrMode::Rpa: {
            // A fresh resolvable private address: prand with the top bits
            // 01 and its other 22 bits neither all zeroes nor all ones.
            gap::Prand prand;
            do {
                for (auto& b : prand) b = static_cast<uint8_t>(rng());
                prand[0] = static_cast<uint8_t>((prand[0] & 0x3f) | 0x40);
            } while ((prand == gap::Prand{0x40, 0, 0}) || (prand == gap::Prand{0x7f, 0xff, 0xff}));
            return {1, gap::resolvable_private_address(irk_, prand)};
        }
        case AddrMode::Nrpa: break;
    }
    // A fresh non-resolvable private address: the two top bits 00, the rest
    // random and neither all zeroes nor all ones.
    Address a;
    do {
        for (auto& b : a.msb_first) b = static_cast<uint8_t>(rng());
        a.msb_first[0] &= 0x3f;
    } while (a.is_zero() || a == Address{{0x3f, 0xff, 0xff, 0xff, 0xff, 0xff}});
    return {1, a};
}

void Adapter::gap_advertise(const std::optional<gap::AdvertiseRequest>& request) {
    if (!request) {
        advertiser_.stop();
        return;
    }
    require_active("gap_advertise");
    advertiser_.advertise(*request, own_address());
    if (addr_mode_ == AddrMode::Rpa) schedule_rpa_rotation();
}

void Adapter::schedule_rpa_rotation() {
    timers_.cancel(rpa_timer_);
    rpa_timer_ = timers_.start(kRpaLifetime, [this] {
        rpa_timer_ = 0;
        if (addr_mode_ != AddrMode::Rpa || !advertiser_.advertising()) return;
        try {
            advertiser_.change_address(own_address().address);
            schedule_rpa_rotation();
        } catch (const std::exception&) {
            // The controller refused or is gone: advertising has stopped
            // rather than keep an address past its time.
        }
    });
}

void Adapter::gap_scan(const std::optional<gap::ScanRequest>& request) {
    if (!request) {
        scanner_.stop();
        return;
    }
    require_active("gap_scan");
    if (connections_.connecting()) {
        throw BleError(ErrorCode::Busy, "a gap_connect is pending; scanning would disturb it (NimBLE refuses this too)");
    }
    scanner_.start(*request);
}

void Adapter::gap_connect(const gap::ConnectRequest& request) {
    require_active("gap_connect");
    LeAddress own = own_address();
    // As MicroPython does: a running scan ends (with SCAN_DONE) and the
    // connect goes ahead. Checked first, so a refused call leaves it running.
    connections_.check(request);
    scanner_.stop();
    connections_.connect(request, own);
}

void Adapter::gap_connect_cancel() { connections_.cancel(); }

bool Adapter::gap_disconnect(uint16_t conn_handle) {
    if (!active()) return false;
    return connections_.disconnect(conn_handle);
}

void Adapter::l2cap_listen(uint16_t psm, uint16_t mtu) {
    L2capChannels::check(psm, mtu);
    require_active("l2cap_listen");
    l2cap_.listen(identity(), psm, mtu);
}

void Adapter::l2cap_connect(uint16_t conn_handle, uint16_t psm, uint16_t mtu) {
    L2capChannels::check(psm, mtu);
    // Inactive, there are no connections: NotFound, as for the GATT client.
    auto peer = connections_.peer(conn_handle);
    if (!peer) throw BleError(ErrorCode::NotFound, "no connection with handle " + std::to_string(conn_handle));
    l2cap_.connect(conn_handle, identity(), *peer, psm, mtu);
}

void Adapter::attach_link(uint16_t conn_handle, std::unique_ptr<gap::Link> link) {
    connections_.attach(conn_handle, std::move(link));
    if (auto it = bearers_.find(conn_handle); it != bearers_.end()) it->second->link_attached();
}

AttBearer& Adapter::bearer(uint16_t conn_handle) {
    if (auto it = bearers_.find(conn_handle); it != bearers_.end()) return *it->second;
    if (!connections_.connected(conn_handle)) {
        throw BleError(ErrorCode::NotFound, "connection " + std::to_string(conn_handle) + " is not connected");
    }
    AttBearer::Context context{
        gatt_db_, timers_, events_,
        [this, conn_handle](ByteView pdu) {
            gap::Link* link = connections_.link(conn_handle);
            if (link) link->send(pdu);
            return link != nullptr;
        },
        [this, conn_handle] {
            try {
                connections_.disconnect(conn_handle);
            } catch (const std::exception&) {
                // The controller did not take the Disconnect: it is gone or
                // stuck, and the link's end is reported if it ever comes.
            }
        },
        [this, conn_handle] {
            gap::Link* link = connections_.link(conn_handle);
            return link ? link->backlog() : size_t{0};
        },
        [this, conn_handle] { return security_.link_security(conn_handle); },
        [this, conn_handle](uint8_t att_error) { return security_.raise_for_client(conn_handle, att_error); },
    };
    auto b = std::make_shared<AttBearer>(conn_handle, static_cast<uint16_t>(mtu_), std::move(context));
    b->set_read_asker(read_asker_);
    return *bearers_.emplace(conn_handle, std::move(b)).first->second;
}

void Adapter::on_att_pdu(uint16_t conn_handle, ByteView pdu) {
    if (!connections_.connected(conn_handle)) return;
    bearer(conn_handle).on_pdu(pdu);
}

std::vector<std::vector<uint16_t>> Adapter::gatts_register_services(const std::vector<gatt::ServiceDef>& services) {
    gatt::Database::check(services);
    if (advertiser_.advertising()) {
        throw BleError(ErrorCode::Busy, "advertising must be stopped before registering services (as ubluetooth documents)");
    }
    for (auto& [handle, b] : bearers_) b->services_changing();
    auto handles = gatt_db_.build(services, gap_name_);
    for (auto& [handle, b] : bearers_) b->services_changed();
    return handles;
}

Bytes Adapter::gatts_read(uint16_t value_handle) {
    gatt::Attribute& a = gatt_db_.app_value(value_handle);
    Bytes value = a.value;
    if (a.append) a.value.clear();  // an append buffer is emptied by reading it
    return value;
}

size_t Adapter::gatts_write(uint16_t value_handle, ByteView data, bool send_update) {
    gatt::Attribute& a = gatt_db_.app_value(value_handle);
    if (data.size() > kMaxValueBuffer) {
        throw BleError(ErrorCode::InvalidArgs, "a value is at most " + std::to_string(kMaxValueBuffer) + " bytes");
    }
    a.value.assign(data.begin(), data.end());
    a.capacity = std::max(a.capacity, data.size());  // a local write raises the size a client may write
    size_t missed = 0;
    if (send_update) {
        for (auto& [handle, b] : bearers_) missed += b->send_update(value_handle, data) ? 0 : 1;
    }
    return missed;
}

void Adapter::gatts_notify(uint16_t conn_handle, uint16_t value_handle, const std::optional<Bytes>& data) {
    const gatt::Attribute& a = gatt_db_.app_value(value_handle);
    bearer(conn_handle).notify(value_handle, data ? *data : a.value);
}

void Adapter::gatts_indicate(uint16_t conn_handle, uint16_t value_handle, const std::optional<Bytes>& data) {
    const gatt::Attribute& a = gatt_db_.app_value(value_handle);
    bearer(conn_handle).indicate(value_handle, data ? *data : a.value);
}

void Adapter::gatts_set_buffer(uint16_t value_handle, uint32_t len, bool append) {
    gatt::Attribute& a = gatt_db_.app_value(value_handle);
    if (len > kMaxValueBuffer) {
        throw BleError(ErrorCode::InvalidArgs, "a buffer is at most " + std::to_string(kMaxValueBuffer) + " bytes");
    }
    a.capacity = len;
    a.append = append;
    if (a.value.size() > len) a.value.resize(len);
}

void Adapter::set_read_request_asker(ReadRequestAsker asker) {
    read_asker_ = std::move(asker);
    for (auto& [handle, b] : bearers_) b->set_read_asker(read_asker_);
}

template <typename F>
void Adapter::client_call(uint16_t conn_handle, F&& queue) {
    AttBearer& b = bearer(conn_handle);
    queue(b.client());
    b.flush();
}

void Adapter::gattc_discover_services(uint16_t conn_handle, const std::optional<att::Uuid>& uuid) {
    client_call(conn_handle, [&](gatt::Client& c) { c.discover_services(uuid); });
}

void Adapter::gattc_discover_characteristics(uint16_t conn_handle, uint16_t start, uint16_t end,
                                             const std::optional<att::Uuid>& uuid) {
    client_call(conn_handle, [&](gatt::Client& c) { c.discover_characteristics(start, end, uuid); });
}

void Adapter::gattc_discover_descriptors(uint16_t conn_handle, uint16_t start, uint16_t end) {
    client_call(conn_handle, [&](gatt::Client& c) { c.discover_descriptors(start, end); });
}

void Adapter::gattc_read(uint16_t conn_handle, uint16_t value_handle) {
    client_call(conn_handle, [&](gatt::Client& c) { c.read(value_handle); });
}

void Adapter::gattc_write(uint16_t conn_handle, uint16_t value_handle, ByteView data, uint32_t mode) {
    if (mode > 1) throw BleError(ErrorCode::InvalidArgs, "gattc_write mode is 0 (without response) or 1 (with response)");
    if (mode == 0) {
        bearer(conn_handle).write_command(value_handle, data);
        return;
    }
    client_call(conn_handle, [&](gatt::Client& c) { c.write(value_handle, data); });
}

void Adapter::gattc_exchange_mtu(uint16_t conn_handle) {
    client_call(conn_handle, [](gatt::Client& c) { c.exchange_mtu(); });
}

void Adapter::set_gap_name(const std::string& name) {
    gap_name_ = name;
    if (auto* a = gatt_db_.find(gatt_db_.device_name_handle())) a->value.assign(name.begin(), name.end());
}

void Adapter::dispatch_hci_events() {
    while (auto event = hci_.next_event()) {
        if (event->code == hci::ev::DisconnectionComplete) {
            connections_.on_disconnection_complete(event->params);
        } else if (event->code == hci::ev::LeMeta) {
            if (auto meta = hci::decode_le_meta(event->params)) {
                scanner_.on_le_meta(*meta);
                advertiser_.on_le_meta(*meta);
                connections_.on_le_meta(*meta);
            }
        } else {
            connections_.on_encryption_event(*event);
        }
    }
}

void Adapter::on_mgmt_event(const mgmt::Frame& frame) {
    if (security_.on_mgmt_event(frame)) return;
    if (frame.code == mgmt::ev::NewSettings) {
        if (auto s = mgmt::decode_settings(frame.params)) {
            uint32_t old_settings = settings_;
            settings_ = *s;
            power_changed(old_settings);
        }
    } else if (frame.code == mgmt::ev::LocalNameChanged) {
        if (auto n = mgmt::decode_local_name(frame.params)) {
            set_gap_name(n->name);
            short_name_ = n->short_name;
        }
    }
}

}  // namespace ubt::ble
