#pragma once
// The ubluetooth BLE object of one controller: active() and config() over the
// kernel's mgmt interface. Used from the event-loop thread only; borrows the
// MgmtClient, which must outlive it.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config_value.hpp"
#include "mgmt/mgmt_client.hpp"
#include "mgmt/mgmt_codec.hpp"

namespace ubt::ble {

enum class AddrMode : uint8_t { Public = 0, Random = 1, Rpa = 2, Nrpa = 3 };

class Adapter {
public:
    Adapter(uint16_t index, mgmt::MgmtClient& mgmt, const mgmt::ControllerInfo& info);

    uint16_t index() const { return index_; }
    std::string name() const { return "hci" + std::to_string(index_); }

    bool active() const;
    // Powers the controller with LE on (applying the address mode), or off.
    void set_active(bool on);

    ConfigValue config_get(const std::string& key) const;
    // Checks every value first and changes nothing if any is rejected.
    void config_set(const std::vector<std::pair<std::string, ConfigValue>>& values);

    // New Settings and Local Name Changed events for this controller.
    void on_mgmt_event(const mgmt::Frame& frame);

    static constexpr int64_t kMinMtu = 23;
    static constexpr int64_t kMaxMtu = 517;
    static constexpr int64_t kMinRxbuf = 128;
    static constexpr int64_t kMaxRxbuf = 16 * 1024 * 1024;
    static constexpr size_t kMaxNameLength = mgmt::kNameSize - 1;

private:
    struct Pending;  // a validated config() call, applied in one go
    Pending validate(const std::vector<std::pair<std::string, ConfigValue>>& values) const;
    void apply_address_mode();
    // Runs a command whose reply is Current_Settings and keeps them.
    void settings_command(const mgmt::Frame& cmd);
    bool has_public_address() const { return !public_address_.is_zero(); }
    MacValue identity() const;

    uint16_t index_;
    mgmt::MgmtClient& mgmt_;
    Address public_address_;
    uint32_t supported_settings_;
    uint32_t settings_;
    std::string gap_name_;
    AddrMode addr_mode_;
    Address static_address_;  // generated once, used in Random mode
    std::array<uint8_t, mgmt::kIrkSize> irk_{};  // generated once, used in Rpa/Nrpa modes
    int64_t rxbuf_ = 65536;
    int64_t mtu_ = 256;
};

}  // namespace ubt::ble
