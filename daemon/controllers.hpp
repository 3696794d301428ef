#pragma once
// The set of controllers the daemon serves: one ble::Adapter and its D-Bus
// object per kernel controller index, added and removed as the kernel reports
// them. Owns both; event-loop thread only.

#include <sdbus-c++/sdbus-c++.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "ble/adapter.hpp"
#include "dbus/ble_object.hpp"
#include "mgmt/mgmt_client.hpp"

namespace ubt::daemon {

class Controllers {
public:
    // allowed: adapter names to serve ("hci0"); empty serves every controller.
    Controllers(sdbus::IConnection& connection, mgmt::MgmtClient& mgmt, std::set<std::string> allowed);

    // Adds the controllers the kernel has now.
    void start();
    // Handles the mgmt events queued so far.
    void dispatch_events();
    size_t count() const { return served_.size(); }

private:
    struct Served {
        std::unique_ptr<ble::Adapter> adapter;
        std::unique_ptr<dbus::BleObject> object;  // declared last: destroyed first
    };

    void add(uint16_t index);
    void remove(uint16_t index);
    bool allowed(uint16_t index) const;

    sdbus::IConnection& connection_;
    mgmt::MgmtClient& mgmt_;
    std::set<std::string> allowed_;
    std::map<uint16_t, Served> served_;
};

}  // namespace ubt::daemon
