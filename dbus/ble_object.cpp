#include "ble_object.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <type_traits>
#include <variant>

#include "core/error.hpp"
#include "variant_convert.hpp"

namespace ubt::dbus {

namespace {

constexpr const char* kErrorPrefix = "org.ubluetooth.Error.";

}  // namespace

constexpr const char* kHandlerInterface = "org.ubluetooth.Handler1";
constexpr std::chrono::seconds kSecretTimeout{5};

BleObject::BleObject(sdbus::IConnection& connection, ble::Adapter& adapter)
    : AdaptorInterfaces(connection, std::string(kRootPath) + "/" + adapter.name()),
      connection_(connection),
      adapter_(adapter) {
    bus_proxy_ = sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    bus_proxy_->uponSignal("NameOwnerChanged")
        .onInterface("org.freedesktop.DBus")
        .call([this](const std::string& name, const std::string&, const std::string& new_owner) {
            try {
                name_owner_changed(name, new_owner);
            } catch (const std::exception& e) {
                spdlog::error("{}: a departed handler was not cleared up: {}", adapter_.name(), e.what());
            }
        });
    bus_proxy_->finishRegistration();
    registerAdaptor();
    emitInterfacesAddedSignal({org::ubluetooth::BLE1_adaptor::INTERFACE_NAME});
}

BleObject::~BleObject() {
    adapter_.set_read_request_asker(nullptr);  // the askers call this object
    adapter_.set_l2cap_accept_asker(nullptr);
    adapter_.set_secret_keeper(std::nullopt);
    try {
        emitInterfacesRemovedSignal({org::ubluetooth::BLE1_adaptor::INTERFACE_NAME});
    } catch (const sdbus::Error& e) {
        // The bus may already be gone (the daemon is stopping because of it).
        spdlog::debug("{}: InterfacesRemoved not sent: {}", adapter_.name(), e.what());
    }
    unregisterAdaptor();
}

template <typename F>
auto BleObject::guard(const char* method, F&& body) -> decltype(body()) {
    try {
        return body();
    } catch (const BleError& e) {
        spdlog::info("{}: {} refused: {}: {}", adapter_.name(), method, error_name(e.code()), e.what());
        throw sdbus::Error(std::string(kErrorPrefix) + error_name(e.code()), e.what());
    } catch (const sdbus::Error&) {
        throw;
    } catch (const std::exception& e) {
        spdlog::error("{}: {} failed: {}", adapter_.name(), method, e.what());
        throw sdbus::Error(std::string(kErrorPrefix) + "Failed", e.what());
    }
}

bool BleObject::Active(const Options& options) {
    return guard("Active", [&] {
        check_option_keys(options, {"active"}, "Active");
        if (auto on = bool_option(options, "active")) {
            spdlog::info("{}: active({})", adapter_.name(), *on ? "True" : "False");
            adapter_.set_active(*on);
        }
        return adapter_.active();
    });
}

sdbus::Variant BleObject::ConfigGet(const std::string& name) {
    return guard("ConfigGet", [&] { return to_variant(adapter_.config_get(name)); });
}

void BleObject::ConfigSet(const Options& values) {
    guard("ConfigSet", [&] {
        std::vector<std::pair<std::string, ble::ConfigValue>> converted;
        for (const auto& [key, value] : values) converted.emplace_back(key, from_variant(key, value));
        adapter_.config_set(converted);
        for (const auto& [key, value] : values) spdlog::info("{}: config {} set", adapter_.name(), key);
    });
}

void BleObject::RegisterHandler(const sdbus::ObjectPath& handler) {
    guard("RegisterHandler", [&] {
        std::string sender = getObject().getCurrentlyProcessedMessage()->getSender();
        // Like irq(), a new registration replaces the previous one.
        set_handler(Handler{sender, handler, sdbus::createProxy(connection_, sender, handler)});
        spdlog::info("{}: handler {} {} registered", adapter_.name(), sender, std::string(handler));
    });
}

void BleObject::set_handler(std::optional<Handler> handler) {
    handler_ = std::move(handler);
    if (!handler_) {
        adapter_.set_read_request_asker(nullptr);
        adapter_.set_l2cap_accept_asker(nullptr);
        adapter_.set_secret_keeper(std::nullopt);
        return;
    }
    adapter_.set_read_request_asker(
        [this](uint16_t conn, uint16_t attr, std::function<void(uint32_t)> answer) { ask_read(conn, attr, std::move(answer)); });
    adapter_.set_l2cap_accept_asker(
        [this](const l2cap::ChannelInfo& info, std::function<void(std::optional<uint32_t>)> answer) {
            ask_accept(info, std::move(answer));
        });
    adapter_.set_secret_keeper(ble::SecretKeeper{
        [this](uint32_t sec_type, const Bytes& key, const Bytes& value) { set_secret(sec_type, key, value); },
        [this](uint32_t sec_type, uint32_t index, std::function<void(std::optional<Bytes>)> answer) {
            get_secret(sec_type, index, std::move(answer));
        }});
}

// Throws sdbus::Error when the call cannot be made (the caller logs it).
void BleObject::set_secret(uint32_t sec_type, const Bytes& key, const Bytes& value) {
    if (!handler_) return;
    // No SetSecret signal: the value holds keys, and a signal reaches every
    // client that listens. Only the handler is called.
    handler_->proxy->callMethodAsync("SetSecret")
        .onInterface(kHandlerInterface)
        .withTimeout(kSecretTimeout)
        .withArguments(sec_type, key, value)
        .uponReplyInvoke([name = adapter_.name()](const sdbus::Error* error, bool stored) {
            if (error) {
                spdlog::warn("{}: the handler did not take a secret: {}", name, error->getMessage());
            } else if (!stored) {
                spdlog::info("{}: the handler did not store a secret (it returned False or None)", name);
            }
        });
}

void BleObject::get_secret(uint32_t sec_type, uint32_t index, std::function<void(std::optional<Bytes>)> answer) {
    if (!handler_) return;
    try {
        handler_->proxy->callMethodAsync("GetSecret")
            .onInterface(kHandlerInterface)
            .withTimeout(kSecretTimeout)
            .withArguments(sec_type, index, std::vector<uint8_t>{})
            .uponReplyInvoke([name = adapter_.name(), answer](const sdbus::Error* error, bool found,
                                                              std::vector<uint8_t> value) {
                // Runs inside the bus's dispatch: nothing may escape into it.
                try {
                    if (error) {
                        spdlog::warn("{}: the handler did not give its secrets: {}", name, error->getMessage());
                        answer(std::nullopt);
                        return;
                    }
                    answer(found ? std::optional<Bytes>(std::move(value)) : std::nullopt);
                } catch (const std::exception& e) {
                    spdlog::error("{}: a secret from the handler was not taken: {}", name, e.what());
                }
            });
    } catch (const sdbus::Error& e) {
        spdlog::warn("{}: the handler could not be asked for its secrets: {}", adapter_.name(), e.getMessage());
        answer(std::nullopt);
    }
}

void BleObject::ask_read(uint16_t conn_handle, uint16_t attr_handle, std::function<void(uint32_t)> answer) {
    if (!handler_) return;  // the bearer's own timer denies it
    try {
        handler_->proxy->callMethodAsync("GattsReadRequest")
            .onInterface(kHandlerInterface)
            .withTimeout(ble::AttBearer::kReadRequestTimeout)
            .withArguments(conn_handle, attr_handle)
            .uponReplyInvoke([name = adapter_.name(), attr_handle, answer = std::move(answer)](
                                 const sdbus::Error* error, uint32_t status) {
                // Runs inside the bus's dispatch: nothing may escape into it.
                try {
                    if (error) {
                        spdlog::warn("{}: the handler did not answer the read request of handle {} ({}): the read is denied",
                                     name, attr_handle, error->getMessage());
                        answer(att::error::UnlikelyError);
                        return;
                    }
                    answer(status);
                } catch (const std::exception& e) {
                    spdlog::error("{}: the answer to the read request of handle {} was not sent: {}", name, attr_handle,
                                  e.what());
                }
            });
    } catch (const sdbus::Error& e) {
        spdlog::warn("{}: the handler could not be asked about handle {} ({}): the read is denied", adapter_.name(),
                     attr_handle, e.getMessage());
        answer(att::error::UnlikelyError);
    }
}

void BleObject::name_owner_changed(const std::string& name, const std::string& new_owner) {
    if (!new_owner.empty() || !handler_ || handler_->sender != name) return;
    spdlog::info("{}: handler {} left the bus: unregistered", adapter_.name(), name);
    set_handler(std::nullopt);
}

void BleObject::UnregisterHandler(const sdbus::ObjectPath& handler) {
    guard("UnregisterHandler", [&] {
        std::string sender = getObject().getCurrentlyProcessedMessage()->getSender();
        if (!handler_ || handler_->sender != sender || handler_->path != handler) {
            throw BleError(ErrorCode::NotFound, "no handler " + std::string(handler) + " is registered by " + sender);
        }
        set_handler(std::nullopt);
        spdlog::info("{}: handler {} {} unregistered", adapter_.name(), sender, std::string(handler));
    });
}

uint64_t BleObject::DroppedEvents() { return adapter_.dropped_events(); }

void BleObject::GapScan(const Options& options) {
    guard("GapScan", [&] {
        check_option_keys(options, {"duration_ms", "interval_us", "window_us", "active"}, "GapScan");
        std::optional<gap::ScanRequest> request;
        if (auto duration = uint_option(options, "duration_ms")) {
            request.emplace();
            request->duration_ms = *duration;
            request->interval_us = uint_option(options, "interval_us").value_or(request->interval_us);
            request->window_us = uint_option(options, "window_us").value_or(request->window_us);
            request->active = bool_option(options, "active").value_or(false);
        }
        adapter_.gap_scan(request);
    });
}

namespace {
std::vector<uint8_t> address_bytes(const Address& a) { return {a.msb_first.begin(), a.msb_first.end()}; }
}  // namespace

bool BleObject::flush_events(size_t max) {
    for (size_t sent = 0; sent < max; ++sent) {
        auto event = adapter_.next_event();
        if (!event) return false;
        try {
            emit(*event);
        } catch (const sdbus::Error& e) {
            // The bus refused (its queue is full, or it is gone): this one
            // is lost, the rest wait for the next round.
            spdlog::error("{}: an event signal was not sent: {}", adapter_.name(), e.what());
            return false;
        }
    }
    return adapter_.has_events();
}

void BleObject::emit(const ble::IrqEvent& event) {
    std::visit(
        [this](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, ble::ScanResult>) {
                emitScanResult(e.addr_type, address_bytes(e.addr), e.adv_type, e.rssi, e.adv_data);
            } else if constexpr (std::is_same_v<T, ble::ScanDone>) {
                emitScanDone();
            } else if constexpr (std::is_same_v<T, ble::CentralConnect>) {
                emitCentralConnect(e.conn_handle, e.addr_type, address_bytes(e.addr));
            } else if constexpr (std::is_same_v<T, ble::CentralDisconnect>) {
                emitCentralDisconnect(e.conn_handle, e.addr_type, address_bytes(e.addr));
            } else if constexpr (std::is_same_v<T, ble::PeripheralConnect>) {
                emitPeripheralConnect(e.conn_handle, e.addr_type, address_bytes(e.addr));
            } else if constexpr (std::is_same_v<T, ble::PeripheralDisconnect>) {
                emitPeripheralDisconnect(e.conn_handle, e.addr_type, address_bytes(e.addr));
            } else if constexpr (std::is_same_v<T, ble::ConnectionUpdate>) {
                emitConnectionUpdate(e.conn_handle, e.conn_interval, e.conn_latency, e.supervision_timeout,
                                     e.status);
            } else if constexpr (std::is_same_v<T, ble::GattsWrite>) {
                emitGattsWrite(e.conn_handle, e.attr_handle);
            } else if constexpr (std::is_same_v<T, ble::GattsReadRequest>) {
                emitGattsReadRequest(e.conn_handle, e.attr_handle);
            } else if constexpr (std::is_same_v<T, ble::GattcServiceResult>) {
                emitGattcServiceResult(e.conn_handle, e.start_handle, e.end_handle, e.uuid.to_string());
            } else if constexpr (std::is_same_v<T, ble::GattcServiceDone>) {
                emitGattcServiceDone(e.conn_handle, e.status);
            } else if constexpr (std::is_same_v<T, ble::GattcCharacteristicResult>) {
                emitGattcCharacteristicResult(e.conn_handle, e.end_handle, e.value_handle, e.properties,
                                              e.uuid.to_string());
            } else if constexpr (std::is_same_v<T, ble::GattcCharacteristicDone>) {
                emitGattcCharacteristicDone(e.conn_handle, e.status);
            } else if constexpr (std::is_same_v<T, ble::GattcDescriptorResult>) {
                emitGattcDescriptorResult(e.conn_handle, e.dsc_handle, e.uuid.to_string());
            } else if constexpr (std::is_same_v<T, ble::GattcDescriptorDone>) {
                emitGattcDescriptorDone(e.conn_handle, e.status);
            } else if constexpr (std::is_same_v<T, ble::GattcReadResult>) {
                emitGattcReadResult(e.conn_handle, e.value_handle, e.data);
            } else if constexpr (std::is_same_v<T, ble::GattcReadDone>) {
                emitGattcReadDone(e.conn_handle, e.value_handle, e.status);
            } else if constexpr (std::is_same_v<T, ble::GattcWriteDone>) {
                emitGattcWriteDone(e.conn_handle, e.value_handle, e.status);
            } else if constexpr (std::is_same_v<T, ble::GattcNotify>) {
                emitGattcNotify(e.conn_handle, e.value_handle, e.data);
            } else if constexpr (std::is_same_v<T, ble::GattcIndicate>) {
                emitGattcIndicate(e.conn_handle, e.value_handle, e.data);
            } else if constexpr (std::is_same_v<T, ble::GattsIndicateDone>) {
                emitGattsIndicateDone(e.conn_handle, e.value_handle, e.status);
            } else if constexpr (std::is_same_v<T, ble::L2capAccept>) {
                emitL2capAccept(e.conn_handle, e.cid, e.psm, e.our_mtu, e.peer_mtu);
            } else if constexpr (std::is_same_v<T, ble::L2capConnect>) {
                spdlog::info("{}: L2CAP channel {} on connection {} (PSM {}) open, MTUs ours {} peer {}",
                             adapter_.name(), e.cid, e.conn_handle, e.psm, e.our_mtu, e.peer_mtu);
                emitL2capConnect(e.conn_handle, e.cid, e.psm, e.our_mtu, e.peer_mtu);
            } else if constexpr (std::is_same_v<T, ble::L2capDisconnect>) {
                spdlog::info("{}: L2CAP channel {} on connection {} (PSM {}) {} (status {})", adapter_.name(), e.cid,
                             e.conn_handle, e.psm, e.status == 0 ? "closed" : "did not open", e.status);
                emitL2capDisconnect(e.conn_handle, e.cid, e.psm, e.status);
            } else if constexpr (std::is_same_v<T, ble::L2capRecv>) {
                emitL2capRecv(e.conn_handle, e.cid);
            } else if constexpr (std::is_same_v<T, ble::L2capSendReady>) {
                emitL2capSendReady(e.conn_handle, e.cid, e.status);
            } else if constexpr (std::is_same_v<T, ble::EncryptionUpdate>) {
                spdlog::info("{}: connection {}: encrypted={} authenticated={} bonded={} key_size={}", adapter_.name(),
                             e.conn_handle, e.encrypted, e.authenticated, e.bonded, e.key_size);
                emitEncryptionUpdate(e.conn_handle, e.encrypted, e.authenticated, e.bonded, e.key_size);
            } else if constexpr (std::is_same_v<T, ble::PasskeyAction>) {
                emitPasskeyAction(e.conn_handle, e.action, e.passkey);
            } else {
                static_assert(std::is_same_v<T, ble::MtuExchanged>);
                emitMtuExchanged(e.conn_handle, e.mtu);
            }
        },
        event);
}

void BleObject::GapAdvertise(const Options& options) {
    guard("GapAdvertise", [&] {
        check_option_keys(options, {"interval_us", "adv_data", "resp_data", "connectable"}, "GapAdvertise");
        std::optional<gap::AdvertiseRequest> request;
        if (auto interval = uint_option(options, "interval_us")) {
            request.emplace();
            request->interval_us = *interval;
            request->adv_data = bytes_option(options, "adv_data");
            request->resp_data = bytes_option(options, "resp_data");
            request->connectable = bool_option(options, "connectable").value_or(true);
        }
        adapter_.gap_advertise(request);
    });
}
void BleObject::GapConnect(const uint8_t& addr_type, const std::vector<uint8_t>& addr, const Options& options) {
    guard("GapConnect", [&] {
        check_option_keys(options, {"scan_duration_ms", "min_conn_interval_us", "max_conn_interval_us"}, "GapConnect");
        gap::ConnectRequest request;
        request.peer = {addr_type, address_arg(addr, "addr")};
        request.scan_duration_ms = uint_option(options, "scan_duration_ms").value_or(request.scan_duration_ms);
        request.min_interval_us = uint_option(options, "min_conn_interval_us");
        request.max_interval_us = uint_option(options, "max_conn_interval_us");
        spdlog::info("{}: gap_connect({}, {})", adapter_.name(), addr_type, request.peer.address.to_string());
        adapter_.gap_connect(request);
    });
}

void BleObject::GapConnectCancel() { guard("GapConnectCancel", [&] { adapter_.gap_connect_cancel(); }); }

bool BleObject::GapDisconnect(const uint16_t& conn_handle) {
    return guard("GapDisconnect", [&] {
        bool connected = adapter_.gap_disconnect(conn_handle);
        spdlog::info("{}: gap_disconnect({}): {}", adapter_.name(), conn_handle, connected ? "disconnecting" : "not connected");
        return connected;
    });
}

namespace {

std::optional<att::Uuid> uuid_option(const Options& options) {
    auto it = options.find("uuid");
    if (it == options.end()) return std::nullopt;
    if (it->second.peekValueType() != "s") throw BleError(ErrorCode::InvalidArgs, "option 'uuid' takes a string (s)");
    return uuid_arg(it->second.get<std::string>(), "uuid");
}

}  // namespace

std::vector<std::vector<uint16_t>> BleObject::GattsRegisterServices(const ServiceDefs& services) {
    return guard("GattsRegisterServices", [&] {
        std::vector<gatt::ServiceDef> defs;
        for (const auto& s : services) {
            auto& service = defs.emplace_back(gatt::ServiceDef{uuid_arg(std::get<0>(s), "service uuid"), {}});
            for (const auto& c : std::get<1>(s)) {
                auto& characteristic = service.characteristics.emplace_back(
                    gatt::CharacteristicDef{uuid_arg(std::get<0>(c), "characteristic uuid"), std::get<1>(c), {}});
                for (const auto& d : std::get<2>(c)) {
                    characteristic.descriptors.push_back({uuid_arg(std::get<0>(d), "descriptor uuid"), std::get<1>(d)});
                }
            }
        }
        auto handles = adapter_.gatts_register_services(defs);
        spdlog::info("{}: gatts_register_services: {} services", adapter_.name(), defs.size());
        return handles;
    });
}

std::vector<uint8_t> BleObject::GattsRead(const uint16_t& value_handle) {
    return guard("GattsRead", [&] { return adapter_.gatts_read(value_handle); });
}

void BleObject::GattsWrite(const uint16_t& value_handle, const std::vector<uint8_t>& data, const Options& options) {
    guard("GattsWrite", [&] {
        check_option_keys(options, {"send_update"}, "GattsWrite");
        if (size_t missed = adapter_.gatts_write(value_handle, data, bool_option(options, "send_update").value_or(false))) {
            spdlog::warn("{}: gatts_write({}): {} client(s) missed the update: their links are full or timed out",
                         adapter_.name(), value_handle, missed);
        }
    });
}

void BleObject::GattsNotify(const uint16_t& conn_handle, const uint16_t& value_handle, const Options& options) {
    guard("GattsNotify", [&] {
        check_option_keys(options, {"data"}, "GattsNotify");
        adapter_.gatts_notify(conn_handle, value_handle, bytes_option(options, "data"));
    });
}

void BleObject::GattsIndicate(const uint16_t& conn_handle, const uint16_t& value_handle, const Options& options) {
    guard("GattsIndicate", [&] {
        check_option_keys(options, {"data"}, "GattsIndicate");
        adapter_.gatts_indicate(conn_handle, value_handle, bytes_option(options, "data"));
    });
}

void BleObject::GattsSetBuffer(const uint16_t& value_handle, const uint32_t& len, const Options& options) {
    guard("GattsSetBuffer", [&] {
        check_option_keys(options, {"append"}, "GattsSetBuffer");
        adapter_.gatts_set_buffer(value_handle, len, bool_option(options, "append").value_or(false));
    });
}

void BleObject::GattcDiscoverServices(const uint16_t& conn_handle, const Options& options) {
    guard("GattcDiscoverServices", [&] {
        check_option_keys(options, {"uuid"}, "GattcDiscoverServices");
        adapter_.gattc_discover_services(conn_handle, uuid_option(options));
    });
}

void BleObject::GattcDiscoverCharacteristics(const uint16_t& conn_handle, const uint16_t& start_handle,
                                             const uint16_t& end_handle, const Options& options) {
    guard("GattcDiscoverCharacteristics", [&] {
        check_option_keys(options, {"uuid"}, "GattcDiscoverCharacteristics");
        adapter_.gattc_discover_characteristics(conn_handle, start_handle, end_handle, uuid_option(options));
    });
}

void BleObject::GattcDiscoverDescriptors(const uint16_t& conn_handle, const uint16_t& start_handle,
                                         const uint16_t& end_handle) {
    guard("GattcDiscoverDescriptors",
          [&] { adapter_.gattc_discover_descriptors(conn_handle, start_handle, end_handle); });
}

void BleObject::GattcRead(const uint16_t& conn_handle, const uint16_t& value_handle) {
    guard("GattcRead", [&] { adapter_.gattc_read(conn_handle, value_handle); });
}

void BleObject::GattcWrite(const uint16_t& conn_handle, const uint16_t& value_handle, const std::vector<uint8_t>& data,
                           const Options& options) {
    guard("GattcWrite", [&] {
        check_option_keys(options, {"mode"}, "GattcWrite");
        adapter_.gattc_write(conn_handle, value_handle, data, uint_option(options, "mode").value_or(0));
    });
}

void BleObject::GattcExchangeMtu(const uint16_t& conn_handle) {
    guard("GattcExchangeMtu", [&] { adapter_.gattc_exchange_mtu(conn_handle); });
}

void BleObject::GapPair(const uint16_t& conn_handle) {
    guard("GapPair", [&] { adapter_.gap_pair(conn_handle); });
}

void BleObject::GapPasskey(const uint16_t& conn_handle, const uint32_t& action, const uint32_t& passkey) {
    guard("GapPasskey", [&] {
        adapter_.gap_passkey(conn_handle, action, passkey);
        spdlog::info("{}: gap_passkey({}, {}) answered", adapter_.name(), conn_handle, action);
    });
}

std::vector<sdbus::Struct<uint8_t, std::vector<uint8_t>>> BleObject::GapBonds() {
    return guard("GapBonds", [&] {
        std::vector<sdbus::Struct<uint8_t, std::vector<uint8_t>>> out;
        for (const LeAddress& peer : adapter_.gap_bonds()) out.emplace_back(peer.type, address_bytes(peer.address));
        return out;
    });
}

void BleObject::GapUnpair(const uint8_t& addr_type, const std::vector<uint8_t>& addr) {
    guard("GapUnpair", [&] {
        if (addr_type > 1) throw BleError(ErrorCode::InvalidArgs, "addr_type is 0 (public) or 1 (random)");
        adapter_.gap_unpair({addr_type, address_arg(addr, "addr")});
    });
}
void BleObject::L2capListen(const uint16_t& psm, const uint16_t& mtu) {
    guard("L2capListen", [&] {
        adapter_.l2cap_listen(psm, mtu);
        spdlog::info("{}: listening on L2CAP PSM {} (MTU {})", adapter_.name(), psm, mtu);
    });
}

void BleObject::L2capConnect(const uint16_t& conn_handle, const uint16_t& psm, const uint16_t& mtu) {
    guard("L2capConnect", [&] {
        adapter_.l2cap_connect(conn_handle, psm, mtu);
        spdlog::info("{}: l2cap_connect({}, {}, {})", adapter_.name(), conn_handle, psm, mtu);
    });
}

void BleObject::L2capDisconnect(const uint16_t& conn_handle, const uint16_t& cid) {
    guard("L2capDisconnect", [&] {
        adapter_.l2cap_disconnect(conn_handle, cid);
        spdlog::info("{}: l2cap_disconnect({}, {})", adapter_.name(), conn_handle, cid);
    });
}

bool BleObject::L2capSend(const uint16_t& conn_handle, const uint16_t& cid, const std::vector<uint8_t>& buf) {
    return guard("L2capSend", [&] { return adapter_.l2cap_send(conn_handle, cid, buf); });
}

std::tuple<uint32_t, std::vector<uint8_t>> BleObject::L2capRecvinto(const uint16_t& conn_handle, const uint16_t& cid,
                                                                    const Options& options) {
    return guard("L2capRecvinto", [&]() -> std::tuple<uint32_t, std::vector<uint8_t>> {
        check_option_keys(options, {"max_len"}, "L2capRecvinto");
        auto max_len = uint_option(options, "max_len");
        if (!max_len) return {static_cast<uint32_t>(adapter_.l2cap_available(conn_handle, cid)), {}};
        Bytes data = adapter_.l2cap_receive(conn_handle, cid, *max_len);
        return {static_cast<uint32_t>(data.size()), std::move(data)};
    });
}

std::tuple<sdbus::UnixFd, std::vector<uint8_t>> BleObject::L2capAcquire(const uint16_t& conn_handle,
                                                                        const uint16_t& cid) {
    return guard("L2capAcquire", [&]() -> std::tuple<sdbus::UnixFd, std::vector<uint8_t>> {
        auto [fd, pending] = adapter_.l2cap_release(conn_handle, cid);
        spdlog::info("{}: L2CAP channel {} on connection {} handed over as a file descriptor ({} bytes pending)",
                     adapter_.name(), cid, conn_handle, pending.size());
        return {sdbus::UnixFd(fd, sdbus::adopt_fd), std::move(pending)};
    });
}

void BleObject::ask_accept(const l2cap::ChannelInfo& info, std::function<void(std::optional<uint32_t>)> answer) {
    if (!handler_) {
        answer(std::nullopt);
        return;
    }
    try {
        handler_->proxy->callMethodAsync("L2capAccept")
            .onInterface(kHandlerInterface)
            // Longer than the channel table's own timer, which then decides (status 110).
            .withTimeout(ble::L2capChannels::kAcceptTimeout + std::chrono::seconds(1))
            .withArguments(info.conn_handle, info.cid, info.psm, info.our_mtu, info.peer_mtu)
            .uponReplyInvoke([name = adapter_.name(), cid = info.cid, answer = std::move(answer)](
                                 const sdbus::Error* error, uint32_t status) {
                // Runs inside the bus's dispatch: nothing may escape into it.
                try {
                    if (error) {
                        spdlog::warn("{}: the handler did not answer for L2CAP channel {} ({}): it is refused", name,
                                     cid, error->getMessage());
                        answer(std::nullopt);
                        return;
                    }
                    if (status != 0) spdlog::info("{}: the handler refused L2CAP channel {} ({})", name, cid, status);
                    answer(status);
                } catch (const std::exception& e) {
                    spdlog::error("{}: the answer for L2CAP channel {} was not applied: {}", name, cid, e.what());
                }
            });
    } catch (const sdbus::Error& e) {
        spdlog::warn("{}: the handler could not be asked about L2CAP channel {} ({}): it is refused", adapter_.name(),
                     info.cid, e.getMessage());
        answer(std::nullopt);
    }
}

}  // namespace ubt::dbus
