#pragma once
// The set of controllers the daemon serves: per kernel controller index, a
// raw HCI socket, a ble::Adapter and its D-Bus object, added and removed as
// the kernel reports them; and the kernel channels that keep their LE links
// up. Owns them all; event-loop thread only.

#include <sdbus-c++/sdbus-c++.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "ble/adapter.hpp"
#include "core/event_loop.hpp"
#include "dbus/ble_object.hpp"
#include "hci/hci_client.hpp"
#include "linux/att_listener.hpp"
#include "linux/bond_files.hpp"
#include "linux/coc_kernel.hpp"
#include "linux/hci_socket.hpp"
#include "linux/l2cap_link.hpp"
#include "mgmt/mgmt_client.hpp"

namespace ubt::daemon {

class Controllers {
public:
    // allowed: adapter names to serve ("hci0"); empty serves every controller.
    // state_dir: where each controller's bonds are kept.
    Controllers(sdbus::IConnection& connection, EventLoop& loop, mgmt::MgmtClient& mgmt,
                std::set<std::string> allowed, std::string state_dir);
    ~Controllers();

    // Adds the controllers the kernel has now.
    void start();
    // Handles the mgmt and HCI events queued so far and, if may_send, sends
    // a batch of the IRQ events they raised; true when more are waiting to
    // be sent. Sending in batches, and not while the bus is still writing
    // the previous ones, keeps the loop reading the sockets: under a flood
    // the adapters' rxbuf queues fill and drop scan results (counted) rather
    // than the kernel dropping every kind of event unseen.
    bool dispatch_events(bool may_send = true);
    size_t count() const { return served_.size(); }

private:
    // Members are destroyed in reverse order: the D-Bus object first.
    struct Served {
        std::unique_ptr<linux_bt::HciSocket> hci_socket;
        std::unique_ptr<hci::HciClient> hci;
        std::unique_ptr<linux_bt::BondFiles> bonds;
        std::unique_ptr<ble::Adapter> adapter;
        std::unique_ptr<dbus::BleObject> object;
    };

    void dispatch(const mgmt::Frame& frame);
    void add(uint16_t index);
    void remove(uint16_t index);
    bool allowed(uint16_t index) const;
    // An ATT channel of a link a central made to one of our controllers.
    void accepted(const LeAddress& local, uint16_t handle, linux_bt::UniqueFd channel);

    sdbus::IConnection& connection_;
    EventLoop& loop_;
    mgmt::MgmtClient& mgmt_;
    std::set<std::string> allowed_;
    std::string state_dir_;
    linux_bt::CocKernel coc_kernel_;  // L2CAP channels of every adapter
    std::unique_ptr<linux_bt::AttListener> att_listener_;
    std::map<uint16_t, Served> served_;
};

}  // namespace ubt::daemon
