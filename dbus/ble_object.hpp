#pragma once
// The D-Bus face of one adapter: /org/ubluetooth/hciN implementing
// org.ubluetooth.BLE1 over a ble::Adapter. Converts D-Bus arguments to facade
// calls and facade errors to org.ubluetooth.Error.*. Event-loop thread only;
// borrows the adapter, which must outlive it.

#include <sdbus-c++/sdbus-c++.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ble/adapter.hpp"
#include "ble1_adaptor.h"
#include "variant_convert.hpp"

namespace ubt::dbus {

class BleObject final
    : public sdbus::AdaptorInterfaces<org::ubluetooth::BLE1_adaptor, sdbus::ManagedObject_adaptor> {
public:
    static constexpr const char* kRootPath = "/org/ubluetooth";

    BleObject(sdbus::IConnection& connection, ble::Adapter& adapter);
    ~BleObject();

    // Sends up to max of the adapter's pending IRQ events as signals; true
    // when more are waiting.
    bool flush_events(size_t max);

private:
    // Configuration and event handling.
    bool Active(const Options& options) override;
    sdbus::Variant ConfigGet(const std::string& name) override;
    void ConfigSet(const Options& values) override;
    void RegisterHandler(const sdbus::ObjectPath& handler) override;
    void UnregisterHandler(const sdbus::ObjectPath& handler) override;

    uint64_t DroppedEvents() override;
    void GapScan(const Options& options) override;
    void GapAdvertise(const Options& options) override;
    void GapConnect(const uint8_t& addr_type, const std::vector<uint8_t>& addr, const Options& options) override;
    void GapConnectCancel() override;
    bool GapDisconnect(const uint16_t& conn_handle) override;

    using ServiceDefs = std::vector<sdbus::Struct<
        std::string,
        std::vector<sdbus::Struct<std::string, uint32_t, std::vector<sdbus::Struct<std::string, uint32_t>>>>>>;
    std::vector<std::vector<uint16_t>> GattsRegisterServices(const ServiceDefs& services) override;
    std::vector<uint8_t> GattsRead(const uint16_t& value_handle) override;
    void GattsWrite(const uint16_t& value_handle, const std::vector<uint8_t>& data, const Options& options) override;
    void GattsNotify(const uint16_t& conn_handle, const uint16_t& value_handle, const Options& options) override;
    void GattsIndicate(const uint16_t& conn_handle, const uint16_t& value_handle, const Options& options) override;
    void GattsSetBuffer(const uint16_t& value_handle, const uint32_t& len, const Options& options) override;
    void GattcDiscoverServices(const uint16_t& conn_handle, const Options& options) override;
    void GattcDiscoverCharacteristics(const uint16_t& conn_handle, const uint16_t& start_handle,
                                      const uint16_t& end_handle, const Options& options) override;
    void GattcDiscoverDescriptors(const uint16_t& conn_handle, const uint16_t& start_handle,
                                  const uint16_t& end_handle) override;
    void GattcRead(const uint16_t& conn_handle, const uint16_t& value_handle) override;
    void GattcWrite(const uint16_t& conn_handle, const uint16_t& value_handle, const std::vector<uint8_t>& data,
                    const Options& options) override;
    void GattcExchangeMtu(const uint16_t& conn_handle) override;

    void L2capListen(const uint16_t& psm, const uint16_t& mtu) override;
    void L2capConnect(const uint16_t& conn_handle, const uint16_t& psm, const uint16_t& mtu) override;
    void L2capDisconnect(const uint16_t& conn_handle, const uint16_t& cid) override;
    bool L2capSend(const uint16_t& conn_handle, const uint16_t& cid, const std::vector<uint8_t>& buf) override;
    std::tuple<uint32_t, std::vector<uint8_t>> L2capRecvinto(const uint16_t& conn_handle, const uint16_t& cid,
                                                             const Options& options) override;
    std::tuple<sdbus::UnixFd, std::vector<uint8_t>> L2capAcquire(const uint16_t& conn_handle,
                                                                 const uint16_t& cid) override;

    void GapPair(const uint16_t& conn_handle) override;
    void GapPasskey(const uint16_t& conn_handle, const uint32_t& action, const uint32_t& passkey) override;
    std::vector<sdbus::Struct<uint8_t, std::vector<uint8_t>>> GapBonds() override;
    void GapUnpair(const uint8_t& addr_type, const std::vector<uint8_t>& addr) override;

    void emit(const ble::IrqEvent& event);
    // Runs a method body; turns facade errors into D-Bus errors and logs them.
    template <typename F>
    auto guard(const char* method, F&& body) -> decltype(body());

    struct Handler {
        std::string sender;
        sdbus::ObjectPath path;
        std::unique_ptr<sdbus::IProxy> proxy;  // destroying it drops the calls in flight
    };
    void set_handler(std::optional<Handler> handler);
    // _IRQ_GATTS_READ_REQUEST to the handler; an error or no answer denies the read.
    void ask_read(uint16_t conn_handle, uint16_t attr_handle, std::function<void(uint32_t)> answer);
    // _IRQ_L2CAP_ACCEPT to the handler; an error refuses the channel (answer nullopt).
    void ask_accept(const l2cap::ChannelInfo& info, std::function<void(std::optional<uint32_t>)> answer);
    // _IRQ_SET_SECRET and _IRQ_GET_SECRET to the handler.
    void set_secret(uint32_t sec_type, const Bytes& key, const Bytes& value);
    void get_secret(uint32_t sec_type, uint32_t index, std::function<void(std::optional<Bytes>)> answer);
    // A bus name went away: a handler it registered goes with it.
    void name_owner_changed(const std::string& name, const std::string& new_owner);

    sdbus::IConnection& connection_;
    ble::Adapter& adapter_;
    std::optional<Handler> handler_;
    std::unique_ptr<sdbus::IProxy> bus_proxy_;  // org.freedesktop.DBus, for NameOwnerChanged
};

}  // namespace ubt::dbus
