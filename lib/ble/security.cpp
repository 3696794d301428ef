#include "security.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "att/att_protocol.hpp"
#include "core/error.hpp"
#include "gap/rpa.hpp"

namespace ubt::ble {

namespace {

constexpr std::chrono::milliseconds kSettleStep{10};
constexpr int kSettleTries = 50;

[[noreturn]] void invalid(const std::string& message) { throw BleError(ErrorCode::InvalidArgs, message); }

bool boolean(const std::string& key, const ConfigValue& value) {
    const bool* b = std::get_if<bool>(&value);
    if (!b) invalid("config '" + key + "' takes True or False");
    return *b;
}

LeAddress le_address(const mgmt::DeviceAddress& a) {
    return {static_cast<uint8_t>(a.type == mgmt::addr_type::LeRandom ? 1 : 0), a.address};
}

mgmt::DeviceAddress device_address(const LeAddress& a) {
    return {a.address, sm::mgmt_address_type(a)};
}

bool is_le(const mgmt::DeviceAddress& a) {
    return a.type == mgmt::addr_type::LePublic || a.type == mgmt::addr_type::LeRandom;
}

sm::Ltk to_ltk(const mgmt::LongTermKey& k) {
    return {static_cast<sm::LtkType>(k.type), k.central != 0, k.enc_size, k.ediv, k.rand, k.val};
}

mgmt::LongTermKey to_mgmt(const LeAddress& peer, const sm::Ltk& k) {
    return {device_address(peer), static_cast<uint8_t>(k.type), static_cast<uint8_t>(k.central ? 1 : 0),
            k.enc_size, k.ediv, k.rand, k.val};
}

// The BT_SECURITY level a stored key gives: asking for more would pair again.
uint8_t level_of(const sm::Bond& bond) {
    bool sc = std::any_of(bond.ltks.begin(), bond.ltks.end(),
                          [](const sm::Ltk& k) { return k.type == sm::LtkType::AuthenticatedP256; });
    if (sc) return 4;
    return bond.authenticated() ? 3 : 2;
}

std::string describe(const mgmt::DeviceAddress& a) {
    return a.address.to_string() + (a.type == mgmt::addr_type::LeRandom ? " (random)" : " (public)");
}

const char* action_name(uint32_t action) {
    switch (action) {
        case passkey_action::Input: return "input";
        case passkey_action::Display: return "display";
        case passkey_action::NumericComparison: return "numeric comparison";
    }
    return "?";
}

}  // namespace

Security::Security(uint16_t index, uint32_t supported_settings, mgmt::MgmtClient& mgmt,
                   gap::Connections& connections, Timers& timers, EventQueue& events, sm::BondStore* store)
    : index_(index),
      supported_settings_(supported_settings),
      mgmt_(mgmt),
      connections_(connections),
      timers_(timers),
      events_(events),
      store_(store) {}

Security::~Security() {
    for (auto& [handle, a] : asking_) timers_.cancel(a.timer);
    for (auto& [handle, t] : settling_) timers_.cancel(t);
}

void Security::start() {
    try {
        send_config(config_);
    } catch (const std::exception& e) {
        spdlog::error("hci{}: security settings not applied: {}", index_, e.what());
    }
    if (store_) {
        try {
            sm::LoadedBonds loaded = store_->load();
            for (const auto& p : loaded.problems) {
                spdlog::warn("hci{}: bond store: {}: {}", index_, p.path, p.reason);
            }
            bonds_ = std::move(loaded.bonds);
        } catch (const std::exception& e) {
            spdlog::error("hci{}: bonds not loaded: {}", index_, e.what());
        }
    }
    load_keys();
    if (supported_settings_ & mgmt::setting::BrEdr) {
        // An LE Secure Connections pairing also gives the kernel a BR/EDR
        // link key; the daemon serves LE only and keeps none of them.
        try {
            mgmt::Reply reply = mgmt_.command(mgmt::clear_link_keys(index_));
            if (!reply.ok()) spdlog::warn("hci{}: BR/EDR link keys not cleared: {}", index_, mgmt::status_name(reply.status));
        } catch (const BleError& e) {
            spdlog::warn("hci{}: BR/EDR link keys not cleared: {}", index_, e.what());
        }
    }
    spdlog::info("hci{}: {} bond(s) loaded", index_, bonds_.size());
}

void Security::load_keys() {
    std::vector<mgmt::LongTermKey> ltks;
    std::vector<mgmt::IdentityResolvingKey> irks;
    for (const auto& b : bonds_) {
        for (const auto& k : b.ltks) ltks.push_back(to_mgmt(b.peer, k));
        if (b.irk) irks.push_back({device_address(b.peer), *b.irk});
    }
    if (ltks.size() > mgmt::kMaxLoadLtks) ltks.resize(mgmt::kMaxLoadLtks);
    if (irks.size() > mgmt::kMaxLoadIrks) irks.resize(mgmt::kMaxLoadIrks);
    // Load IRKs goes even when empty: only then does the kernel ask peers
    // for their identity (docs/kernel-smp.md, Q5).
    for (const auto& cmd : {mgmt::load_identity_resolving_keys(index_, irks), mgmt::load_long_term_keys(index_, ltks)}) {
        try {
            mgmt_.checked(cmd);
        } catch (const std::exception& e) {
            spdlog::error("hci{}: stored keys not given to the kernel: {}", index_, e.what());
        }
    }
}

bool Security::is_config_key(const std::string& key) {
    return key == "io" || key == "bond" || key == "mitm" || key == "le_secure";
}

ConfigValue Security::config_get(const std::string& key) const {
    if (key == "io") return static_cast<int64_t>(config_.io);
    if (key == "bond") return config_.bond;
    if (key == "mitm") return config_.mitm;
    return config_.le_secure;
}

void Security::validate(const std::string& key, const ConfigValue& value, SecurityConfig& into) const {
    if (key == "io") {
        const int64_t* v = std::get_if<int64_t>(&value);
        if (!v) invalid("config 'io' takes an integer");
        if (*v < mgmt::io_capability::DisplayOnly || *v > mgmt::io_capability::KeyboardDisplay) {
            invalid("config 'io' must be between 0 and 4 (_IO_CAPABILITY_*), not " + std::to_string(*v));
        }
        into.io = static_cast<uint8_t>(*v);
    } else if (key == "bond") {
        into.bond = boolean(key, value);
    } else if (key == "mitm") {
        into.mitm = boolean(key, value);
    } else if (key == "le_secure") {
        bool on = boolean(key, value);
        if (on && !(supported_settings_ & mgmt::setting::SecureConnections)) {
            throw BleError(ErrorCode::NotSupported, "hci" + std::to_string(index_) +
                                                        " does not support LE Secure Connections");
        }
        into.le_secure = on;
    } else {
        invalid("unknown config key '" + key + "'");
    }
}

void Security::send_config(const SecurityConfig& c) {
    std::vector<mgmt::Frame> commands{mgmt::set_io_capability(index_, c.io), mgmt::set_bondable(index_, c.bond)};
    if (supported_settings_ & mgmt::setting::SecureConnections) {
        commands.push_back(mgmt::set_secure_connections(
            index_, c.le_secure ? mgmt::secure_connections::On : mgmt::secure_connections::Off));
    }
    // Each setting is sent even when one before it is refused; the first
    // refusal is thrown at the end.
    std::optional<BleError> refused;
    for (const auto& cmd : commands) {
        // With BR/EDR on, the kernel takes Set Secure Connections (on or
        // off) only with SSP on; with BR/EDR off, Set SSP is refused and
        // not needed.
        try {
            if (cmd.code == mgmt::op::SetSecureConnections && (supported_settings_ & mgmt::setting::Ssp)) {
                mgmt_.command(mgmt::set_ssp(index_, true));
            }
            mgmt_.checked(cmd);
        } catch (const BleError& e) {
            if (!refused) refused = e;
        }
    }
    if (refused) throw *refused;
}

void Security::apply(const SecurityConfig& config) {
    if (config == config_) return;
    try {
        send_config(config);
    } catch (const BleError&) {
        try {
            send_config(config_);
        } catch (const BleError& e) {
            spdlog::error("hci{}: the previous security settings could not be restored: {}", index_, e.what());
        }
        throw;
    }
    config_ = config;
}

std::optional<LeAddress> Security::peer_of(uint16_t handle) {
    if (auto it = links_.find(handle); it != links_.end() && it->second.identity) return it->second.identity;
    if (gap::Link* link = connections_.link(handle)) {
        if (auto a = link->peer_address()) return a;
    }
    auto raw = connections_.peer(handle);
    if (raw) return identity_of(*raw);  // a bonded peer's RPA, before the link's socket is there
    return raw;
}

std::optional<uint16_t> Security::handle_of(const mgmt::DeviceAddress& peer, bool sync) {
    LeAddress wanted = le_address(peer);
    auto find = [&]() -> std::optional<uint16_t> {
        for (uint16_t h : connections_.handles()) {
            if (peer_of(h) == wanted || connections_.peer(h) == wanted) return h;
        }
        return std::nullopt;
    };
    auto h = find();
    if (!h && sync && sync_links_) {
        sync_links_();
        h = find();
    }
    return h;
}

const sm::Bond* Security::bond_of(const std::optional<LeAddress>& peer) const {
    if (!peer) return nullptr;
    auto it = std::find_if(bonds_.begin(), bonds_.end(), [&](const sm::Bond& b) { return b.peer == *peer; });
    return it == bonds_.end() ? nullptr : &*it;
}

bool Security::keep(const sm::Bond& bond) {
    try {
        sm::validate(bond);
        if (store_) store_->store(bond);
    } catch (const std::exception& e) {
        spdlog::error("hci{}: the bond with {} was not stored: {}", index_, bond.peer.address.to_string(), e.what());
        return false;
    }
    auto it = std::find_if(bonds_.begin(), bonds_.end(), [&](const sm::Bond& b) { return b.peer == bond.peer; });
    if (it == bonds_.end()) bonds_.push_back(bond);
    else *it = bond;
    std::string text = sm::encode(bond);
    tell_keeper(bond.peer, Bytes(text.begin(), text.end()));
    return true;
}

void Security::tell_keeper(const LeAddress& peer, const Bytes& value) {
    if (!keeper_ || !keeper_->set) return;
    Bytes key{peer.type};
    for (uint8_t b : peer.address.msb_first) key.push_back(b);  // (insert: a false GCC 12 warning)
    try {
        keeper_->set(kBondSecret, key, value);
    } catch (const std::exception& e) {
        spdlog::warn("hci{}: the handler was not given the bond with {}: {}", index_, peer.address.to_string(), e.what());
    }
}

void Security::set_secret_keeper(std::optional<SecretKeeper> keeper) {
    keeper_ = std::move(keeper);
    ++keeper_generation_;
    if (keeper_ && keeper_->get) import_secret(keeper_generation_, 0);
}

void Security::import_secret(uint64_t generation, uint32_t index) {
    if (index >= kMaxHandlerSecrets) {
        spdlog::warn("hci{}: the handler holds more than {} secrets: the rest are not read", index_, kMaxHandlerSecrets);
        return;
    }
    keeper_->get(kBondSecret, index, [this, generation, index](std::optional<Bytes> value) {
        // Another handler since (or none): its answers are not ours to take.
        if (generation != keeper_generation_ || !value) return;
        try {
            sm::Bond bond = sm::decode(std::string(value->begin(), value->end()));
            // Only peers the daemon has no bond with: its own may be newer
            // (re-paired while no handler was registered).
            if (!bond_of(bond.peer) && keep(bond)) {
                load_keys();  // at once: the handler may go before its last answer
                spdlog::info("hci{}: bond with {} restored from the handler", index_, bond.peer.address.to_string());
            }
        } catch (const BleError& e) {
            spdlog::warn("hci{}: the handler's secret {} is not a bond: {}", index_, index, e.what());
        }
        import_secret(generation, index + 1);
    });
}

EncryptionUpdate Security::state(uint16_t handle) {
    bool encrypted = connections_.encrypted(handle);
    gap::SecurityLevel level;
    if (gap::Link* link = connections_.link(handle)) level = link->security().value_or(level);
    const sm::Bond* bond = bond_of(peer_of(handle));
    LinkState link_state;
    if (auto it = links_.find(handle); it != links_.end()) link_state = it->second;
    // After a pairing on this link only its own stored key counts (a
    // non-bonding pairing must not borrow an earlier bond's standing).
    bool key_in_use = bond && !bond->ltks.empty() && (!link_state.paired || link_state.stored);
    bool bonded = encrypted && key_in_use;
    // A central encrypting with a stored key reports the level it asked for,
    // not the key's (docs/kernel-smp.md, Q3): there the key's type says.
    bool by_key = bonded && !link_state.paired && connections_.we_are_central(handle);
    bool authenticated = encrypted && (level.level >= 3 || (by_key && bond->authenticated()));
    uint8_t key_size = 0;
    if (encrypted) key_size = level.key_size ? level.key_size : (key_in_use ? bond->key_size() : 0);
    return {handle, encrypted, authenticated, bonded, key_size};
}

void Security::report(uint16_t handle, bool force) {
    if (!connections_.connected(handle)) return;
    auto last = reported_.find(handle);
    // Nothing is raised before the link's first encryption event.
    if (!force && last == reported_.end()) return;
    EncryptionUpdate now = state(handle);
    if (!force && last->second == now) return;
    reported_[handle] = now;
    events_.push(now);
}

void Security::report_when_settled(uint16_t handle, int tries_left) {
    settling_.erase(handle);
    gap::Link* link = connections_.link(handle);
    auto level = link ? link->security() : std::nullopt;
    uint8_t wanted = 2;
    if (auto it = links_.find(handle); it != links_.end()) wanted = std::max<uint8_t>(wanted, it->second.requested);
    bool settled = !connections_.encrypted(handle) || !level || level->level >= wanted;
    if (settled || tries_left <= 0) {
        report(handle, true);
        return;
    }
    settling_[handle] = timers_.start(kSettleStep, [this, handle, tries_left] { report_when_settled(handle, tries_left - 1); });
}

void Security::encryption_changed(uint16_t handle) {
    forget_asking(handle);  // the pairing is over
    if (auto it = settling_.find(handle); it != settling_.end()) timers_.cancel(it->second);
    report_when_settled(handle, kSettleTries);
}

void Security::link_ended(uint16_t handle) {
    forget_asking(handle);
    reported_.erase(handle);
    links_.erase(handle);
    if (auto it = settling_.find(handle); it != settling_.end()) {
        timers_.cancel(it->second);
        settling_.erase(it);
    }
}

gatt::LinkSecurity Security::link_security(uint16_t handle) {
    EncryptionUpdate s = state(handle);
    return {s.encrypted, s.authenticated};
}

void Security::pair(uint16_t handle) {
    if (!connections_.connected(handle)) {
        throw BleError(ErrorCode::NotFound, "no connection with handle " + std::to_string(handle));
    }
    gap::Link* link = connections_.link(handle);
    if (!link) {
        throw BleError(ErrorCode::Busy, "connection " + std::to_string(handle) +
                                            " has no channel in the kernel yet; try again in a moment");
    }
    const sm::Bond* bond = bond_of(peer_of(handle));
    bool with_key = bond && !bond->ltks.empty();
    uint8_t level = with_key ? level_of(*bond) : (config_.mitm ? (config_.le_secure ? 4 : 3) : 2);
    spdlog::info("hci{}: securing connection {} at level {} ({})", index_, handle, level,
                 with_key ? "stored key" : "pairing");
    if (!link->request_security(level)) {
        report(handle, true);  // already there
        return;
    }
    links_[handle].requested = level;
}

bool Security::raise_for_client(uint16_t handle, uint8_t att_error) {
    gap::Link* link = connections_.link(handle);
    if (!link) return false;
    bool needs_mitm = att_error == att::error::InsufficientAuthentication;
    uint8_t wanted = needs_mitm ? (config_.le_secure ? 4 : 3) : 2;
    const sm::Bond* bond = bond_of(peer_of(handle));
    uint8_t level = wanted;
    if (bond && !bond->ltks.empty()) {
        level = level_of(*bond);  // asking above the key's level would pair again
        if (needs_mitm && level < 3) return false;
    } else if (needs_mitm && config_.io == mgmt::io_capability::NoInputNoOutput) {
        return false;  // no pairing method gives MITM protection without input or output
    }
    spdlog::info("hci{}: connection {}: the peer's server wants more security (ATT error 0x{:02x}): asking for level {}",
                 index_, handle, att_error, level);
    try {
        if (!link->request_security(level)) return false;
        links_[handle].requested = level;
        return true;
    } catch (const BleError& e) {
        spdlog::warn("hci{}: connection {}: {}", index_, handle, e.what());
        return false;
    }
}

void Security::ask(uint16_t handle, uint32_t action, const mgmt::DeviceAddress& peer, uint32_t passkey) {
    forget_asking(handle);
    Timers::Id timer = timers_.start(kPasskeyTimeout, [this, handle] {
        asking_.erase(handle);
        spdlog::info("hci{}: connection {}: no gap_passkey within {} s", index_, handle, kPasskeyTimeout.count());
    });
    asking_[handle] = {action, peer, passkey, timer};
    spdlog::info("hci{}: connection {}: passkey action {} ({})", index_, handle, action, action_name(action));
    events_.push(PasskeyAction{handle, action, passkey});
}

void Security::forget_asking(uint16_t handle) {
    auto it = asking_.find(handle);
    if (it == asking_.end()) return;
    timers_.cancel(it->second.timer);
    asking_.erase(it);
}

void Security::passkey(uint16_t handle, uint32_t action, uint32_t passkey) {
    if (action != passkey_action::Input && action != passkey_action::Display &&
        action != passkey_action::NumericComparison) {
        invalid("gap_passkey action must be 2 (input), 3 (display) or 4 (numeric comparison), not " +
                std::to_string(action));
    }
    auto it = asking_.find(handle);
    if (it == asking_.end()) {
        throw BleError(ErrorCode::NotFound, "connection " + std::to_string(handle) + " is not waiting for gap_passkey");
    }
    if (it->second.action != action) {
        invalid("connection " + std::to_string(handle) + " waits for action " + std::to_string(it->second.action) +
                " (" + action_name(it->second.action) + "), not " + std::to_string(action));
    }
    mgmt::Frame cmd;
    if (action == passkey_action::Input) {
        if (passkey > kMaxPasskey) invalid("a passkey is 0 to 999999, not " + std::to_string(passkey));
        cmd = mgmt::user_passkey_reply(index_, it->second.peer, passkey);
    } else if (action == passkey_action::NumericComparison) {
        if (passkey > 1) invalid("numeric comparison takes 1 (the values match) or 0 (they do not)");
        cmd = passkey ? mgmt::user_confirm_reply(index_, it->second.peer)
                      : mgmt::user_confirm_negative_reply(index_, it->second.peer);
    } else {
        // The kernel chose the displayed passkey and sent it with the event.
        if (passkey != it->second.passkey) {
            spdlog::warn("hci{}: connection {}: the passkey to show is the one in the passkey action, chosen by the "
                         "kernel; the one given to gap_passkey is ignored",
                         index_, handle);
        }
        forget_asking(handle);
        return;
    }
    forget_asking(handle);
    mgmt::Reply reply = mgmt_.command(cmd);
    if (!reply.ok()) {
        throw BleError(ErrorCode::Failed, std::string("the kernel did not take the answer: ") +
                                              mgmt::status_name(reply.status));
    }
}

LeAddress Security::identity_of(const LeAddress& peer) const {
    const auto& a = peer.address.msb_first;
    if (peer.type != 1 || (a[0] & 0xc0) != 0x40) return peer;  // not resolvable private
    gap::Prand prand{a[0], a[1], a[2]};
    for (const auto& b : bonds_) {
        if (b.irk && gap::resolvable_private_address(*b.irk, prand) == peer.address) return b.peer;
    }
    return peer;
}

std::vector<LeAddress> Security::bonds() const {
    std::vector<LeAddress> out;
    for (const auto& b : bonds_) {
        if (!b.ltks.empty()) out.push_back(b.peer);
    }
    return out;
}

void Security::unpair(const LeAddress& peer) {
    auto it = std::find_if(bonds_.begin(), bonds_.end(), [&](const sm::Bond& b) { return b.peer == peer; });
    if (it == bonds_.end()) throw BleError(ErrorCode::NotFound, "no bond with " + peer.address.to_string());
    mgmt::Reply reply = mgmt_.command(mgmt::unpair_device(index_, device_address(peer), true));
    // Not Paired: the kernel had no key left (it was never loaded, say).
    // Not Powered: the kernel unpairs only while powered; the lists are
    // loaded again below instead.
    bool powered_off = reply.status == mgmt::status::NotPowered;
    if (!reply.ok() && reply.status != mgmt::status::NotPaired && !powered_off) {
        throw BleError(ErrorCode::Failed, std::string("Unpair Device failed: ") + mgmt::status_name(reply.status));
    }
    if (peer.type == 0 && (supported_settings_ & mgmt::setting::BrEdr) && !powered_off) {
        // The BR/EDR link key an LE Secure Connections pairing derived, if any.
        mgmt_.command(mgmt::unpair_device(index_, {peer.address, mgmt::addr_type::BrEdr}, false));
    }
    forget(peer);
    if (powered_off) load_keys();
    spdlog::info("hci{}: bond with {} removed", index_, peer.address.to_string());
}

void Security::forget(const LeAddress& peer) {
    // The file first: if it stays, so does the bond, as the next start would see it.
    if (store_) {
        try {
            store_->remove(peer);
        } catch (const BleError& e) {
            if (e.code() != ErrorCode::NotFound) {
                throw BleError(ErrorCode::Failed, "the kernel forgot the bond but its file stays: " + std::string(e.what()));
            }
        }
    }
    auto it = std::find_if(bonds_.begin(), bonds_.end(), [&](const sm::Bond& b) { return b.peer == peer; });
    if (it != bonds_.end()) bonds_.erase(it);
    tell_keeper(peer, {});
}

bool Security::on_mgmt_event(const mgmt::Frame& frame) {
    switch (frame.code) {
        case mgmt::ev::UserConfirmRequest:
            if (auto r = mgmt::decode_user_confirm_request(frame.params)) on_user_confirm(*r);
            return true;
        case mgmt::ev::UserPasskeyRequest:
            if (auto r = mgmt::decode_device_address(frame.params)) on_passkey_request(*r);
            return true;
        case mgmt::ev::PasskeyNotify:
            if (auto r = mgmt::decode_passkey_notify(frame.params)) on_passkey_notify(*r);
            return true;
        case mgmt::ev::NewLongTermKey:
            if (auto r = mgmt::decode_new_long_term_key(frame.params)) on_new_ltk(*r);
            return true;
        case mgmt::ev::NewIdentityResolvingKey:
            if (auto r = mgmt::decode_new_identity_resolving_key(frame.params)) on_new_irk(*r);
            return true;
        case mgmt::ev::DeviceUnpaired:
            if (auto r = mgmt::decode_device_address(frame.params)) on_unpaired(*r);
            return true;
        case mgmt::ev::AuthenticationFailed:
            if (auto r = mgmt::decode_authentication_failed(frame.params)) {
                spdlog::info("hci{}: pairing with {} failed: {}", index_, describe(r->peer),
                             mgmt::status_name(r->status));
                if (auto h = handle_of(r->peer)) {
                    forget_asking(*h);
                    if (security_failed_) security_failed_(*h);
                }
            }
            return true;
    }
    return false;
}

void Security::on_user_confirm(const mgmt::UserConfirmRequest& request) {
    auto handle = handle_of(request.peer, true);
    if (handle) links_[*handle].paired = true;
    if (!handle) {
        spdlog::warn("hci{}: confirmation asked for {}, which is not connected: refused", index_, describe(request.peer));
        mgmt_.command(mgmt::user_confirm_negative_reply(index_, request.peer));
        return;
    }
    if (request.confirm_hint) {
        // Just Works: nothing to show or compare. mitm wants protection
        // that Just Works cannot give, so it refuses.
        spdlog::info("hci{}: connection {}: Just Works pairing {}", index_, *handle, config_.mitm ? "refused (mitm)" : "accepted");
        mgmt_.command(config_.mitm ? mgmt::user_confirm_negative_reply(index_, request.peer)
                                   : mgmt::user_confirm_reply(index_, request.peer));
        return;
    }
    ask(*handle, passkey_action::NumericComparison, request.peer, request.value);
}

void Security::on_passkey_request(const mgmt::DeviceAddress& peer) {
    auto handle = handle_of(peer, true);
    if (handle) links_[*handle].paired = true;
    if (!handle) {
        spdlog::warn("hci{}: passkey asked for {}, which is not connected: refused", index_, describe(peer));
        mgmt_.command(mgmt::user_passkey_negative_reply(index_, peer));
        return;
    }
    ask(*handle, passkey_action::Input, peer, 0);
}

void Security::on_passkey_notify(const mgmt::PasskeyNotify& notify) {
    auto handle = handle_of(notify.peer, true);
    if (!handle) return;
    links_[*handle].paired = true;
    auto it = asking_.find(*handle);
    // Later notifications count the digits the peer typed: one action is enough.
    if (it != asking_.end() && it->second.action == passkey_action::Display && it->second.passkey == notify.passkey) {
        return;
    }
    ask(*handle, passkey_action::Display, notify.peer, notify.passkey);
}

void Security::on_new_ltk(const mgmt::NewLongTermKey& event) {
    const mgmt::LongTermKey& k = event.key;
    if (!is_le(k.peer)) return;
    auto handle = handle_of(k.peer, true);
    if (handle) links_[*handle].paired = true;
    if (!event.store_hint) {
        spdlog::info("hci{}: key for {} not kept (no bond)", index_, describe(k.peer));
        if (handle) report(*handle, false);
        return;
    }
    LeAddress peer = le_address(k.peer);
    const sm::Bond* old = bond_of(peer);
    sm::Bond bond = old ? *old : sm::Bond{peer, {}, std::nullopt};
    // A new pairing's keys replace an earlier pairing's of the other kind
    // (legacy keys come in pairs, an LE Secure Connections key alone).
    sm::Ltk ltk = to_ltk(k);
    auto p256 = [](const sm::Ltk& l) { return l.type >= sm::LtkType::UnauthenticatedP256; };
    std::erase_if(bond.ltks, [&](const sm::Ltk& l) { return p256(l) != p256(ltk); });
    bond.put_ltk(ltk);
    if (!keep(bond)) return;
    spdlog::info("hci{}: bonded with {}", index_, describe(k.peer));
    if (handle) {
        links_[*handle].stored = true;
        report(*handle, false);
    }
}

void Security::on_new_irk(const mgmt::NewIdentityResolvingKey& event) {
    const mgmt::IdentityResolvingKey& k = event.key;
    if (!is_le(k.peer)) return;
    LeAddress peer = le_address(k.peer);
    if (!event.random_address.is_zero()) {
        // The link's socket takes the identity only a while later: the
        // key events that follow name the identity at once.
        for (uint16_t h : connections_.handles()) {
            if (connections_.peer(h) == LeAddress{1, event.random_address}) links_[h].identity = peer;
        }
    }
    if (!event.store_hint) return;
    const sm::Bond* old = bond_of(peer);
    sm::Bond bond = old ? *old : sm::Bond{peer, {}, std::nullopt};
    bond.irk = k.val;
    if (keep(bond)) spdlog::info("hci{}: identity of {} stored", index_, describe(k.peer));
}

void Security::on_unpaired(const mgmt::DeviceAddress& peer) {
    // Another mgmt user (btmgmt, bluetoothd) removed the kernel's keys: the
    // store follows, or the next start would load them back. The kernel is
    // not told again (the peer may have paired anew since).
    if (!is_le(peer)) return;
    LeAddress a = le_address(peer);
    if (!bond_of(a)) return;
    try {
        forget(a);
        spdlog::info("hci{}: bond with {} removed by another program", index_, describe(peer));
    } catch (const std::exception& e) {
        spdlog::error("hci{}: bond with {} removed elsewhere, not from the store: {}", index_, describe(peer), e.what());
    }
}

}  // namespace ubt::ble
