#include "ble_object.hpp"

#include <spdlog/spdlog.h>

#include <type_traits>
#include <variant>

#include "core/error.hpp"
#include "variant_convert.hpp"

namespace ubt::dbus {

namespace {

constexpr const char* kErrorPrefix = "org.ubluetooth.Error.";

// The topics of the parts still to come, named as their issues name them.
constexpr const char* kGatt = "GATT server and client";
constexpr const char* kL2cap = "L2CAP connection-oriented channels";
constexpr const char* kSecurity = "security (pairing, bonding, encryption)";

[[noreturn]] void not_implemented(const char* method, const char* topic) {
    throw BleError(ErrorCode::NotImplemented,
                   std::string(method) + " is not available yet: " + topic + " is still being built");
}

}  // namespace

BleObject::BleObject(sdbus::IConnection& connection, ble::Adapter& adapter)
    : AdaptorInterfaces(connection, std::string(kRootPath) + "/" + adapter.name()), adapter_(adapter) {
    registerAdaptor();
    emitInterfacesAddedSignal({org::ubluetooth::BLE1_adaptor::INTERFACE_NAME});
}

BleObject::~BleObject() {
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
        handler_ = Handler{sender, handler};
        spdlog::info("{}: handler {} {} registered", adapter_.name(), sender, std::string(handler));
    });
}

void BleObject::UnregisterHandler(const sdbus::ObjectPath& handler) {
    guard("UnregisterHandler", [&] {
        std::string sender = getObject().getCurrentlyProcessedMessage()->getSender();
        if (!handler_ || handler_->sender != sender || handler_->path != handler) {
            throw BleError(ErrorCode::NotFound, "no handler " + std::string(handler) + " is registered by " + sender);
        }
        handler_.reset();
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
            } else {
                static_assert(std::is_same_v<T, ble::ConnectionUpdate>);
                emitConnectionUpdate(e.conn_handle, e.conn_interval, e.conn_latency, e.supervision_timeout,
                                     e.status);
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

void BleObject::GapPair(const uint16_t&) { guard("GapPair", [] { not_implemented("gap_pair", kSecurity); }); }
void BleObject::GapPasskey(const uint16_t&, const uint32_t&, const uint32_t&) {
    guard("GapPasskey", [] { not_implemented("gap_passkey", kSecurity); });
}
std::vector<std::vector<uint16_t>> BleObject::GattsRegisterServices(
    const std::vector<sdbus::Struct<std::string,
                                    std::vector<sdbus::Struct<std::string, uint32_t,
                                                              std::vector<sdbus::Struct<std::string, uint32_t>>>>>>&) {
    return guard("GattsRegisterServices",
                 []() -> std::vector<std::vector<uint16_t>> { not_implemented("gatts_register_services", kGatt); });
}
std::vector<uint8_t> BleObject::GattsRead(const uint16_t&) {
    return guard("GattsRead", []() -> std::vector<uint8_t> { not_implemented("gatts_read", kGatt); });
}
void BleObject::GattsWrite(const uint16_t&, const std::vector<uint8_t>&, const Options&) {
    guard("GattsWrite", [] { not_implemented("gatts_write", kGatt); });
}
void BleObject::GattsNotify(const uint16_t&, const uint16_t&, const Options&) {
    guard("GattsNotify", [] { not_implemented("gatts_notify", kGatt); });
}
void BleObject::GattsIndicate(const uint16_t&, const uint16_t&, const Options&) {
    guard("GattsIndicate", [] { not_implemented("gatts_indicate", kGatt); });
}
void BleObject::GattsSetBuffer(const uint16_t&, const uint32_t&, const Options&) {
    guard("GattsSetBuffer", [] { not_implemented("gatts_set_buffer", kGatt); });
}
void BleObject::GattcDiscoverServices(const uint16_t&, const Options&) {
    guard("GattcDiscoverServices", [] { not_implemented("gattc_discover_services", kGatt); });
}
void BleObject::GattcDiscoverCharacteristics(const uint16_t&, const uint16_t&, const uint16_t&, const Options&) {
    guard("GattcDiscoverCharacteristics", [] { not_implemented("gattc_discover_characteristics", kGatt); });
}
void BleObject::GattcDiscoverDescriptors(const uint16_t&, const uint16_t&, const uint16_t&) {
    guard("GattcDiscoverDescriptors", [] { not_implemented("gattc_discover_descriptors", kGatt); });
}
void BleObject::GattcRead(const uint16_t&, const uint16_t&) {
    guard("GattcRead", [] { not_implemented("gattc_read", kGatt); });
}
void BleObject::GattcWrite(const uint16_t&, const uint16_t&, const std::vector<uint8_t>&, const Options&) {
    guard("GattcWrite", [] { not_implemented("gattc_write", kGatt); });
}
void BleObject::GattcExchangeMtu(const uint16_t&) {
    guard("GattcExchangeMtu", [] { not_implemented("gattc_exchange_mtu", kGatt); });
}
void BleObject::L2capListen(const uint16_t&, const uint16_t&) {
    guard("L2capListen", [] { not_implemented("l2cap_listen", kL2cap); });
}
void BleObject::L2capConnect(const uint16_t&, const uint16_t&, const uint16_t&) {
    guard("L2capConnect", [] { not_implemented("l2cap_connect", kL2cap); });
}
void BleObject::L2capDisconnect(const uint16_t&, const uint16_t&) {
    guard("L2capDisconnect", [] { not_implemented("l2cap_disconnect", kL2cap); });
}
bool BleObject::L2capSend(const uint16_t&, const uint16_t&, const std::vector<uint8_t>&) {
    return guard("L2capSend", []() -> bool { not_implemented("l2cap_send", kL2cap); });
}
std::tuple<uint32_t, std::vector<uint8_t>> BleObject::L2capRecvinto(const uint16_t&, const uint16_t&, const Options&) {
    return guard("L2capRecvinto",
                 []() -> std::tuple<uint32_t, std::vector<uint8_t>> { not_implemented("l2cap_recvinto", kL2cap); });
}

}  // namespace ubt::dbus
