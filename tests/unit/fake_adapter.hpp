#pragma once
// A ble::Adapter against a scripted kernel: a mgmt controller that obeys
// every command (FakeController), the ports and clients an adapter is built
// on (AdapterPorts), and a fixture holding one adapter (AdapterFixture).

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ble/adapter.hpp"
#include "fake_hci.hpp"
#include "fake_mgmt_port.hpp"
#include "fake_timers.hpp"

namespace ubt::test {

inline const Address kPublic = *Address::parse("00:AA:01:00:00:23");

// A controller that obeys every command and tracks its settings; it keeps
// the opcodes, the local name, and the last Set Static Address and Set
// Privacy it was given.
struct FakeController {
    uint32_t settings = mgmt::setting::BrEdr;
    std::vector<uint16_t> opcodes;
    std::string name;
    std::optional<Address> static_address;
    std::optional<sm::IrkValue> privacy_irk;  // the IRK of the last Set Privacy that turned privacy on

    std::vector<Bytes> operator()(const mgmt::Frame& cmd) {
        namespace op = mgmt::op;
        namespace setting = mgmt::setting;
        opcodes.push_back(cmd.code);
        auto flag = [&](uint32_t bit) {
            if (cmd.params.at(0)) settings |= bit;
            else settings &= ~bit;
        };
        switch (cmd.code) {
            case op::SetPowered: flag(setting::Powered); break;
            case op::SetLowEnergy: flag(setting::LowEnergy); break;
            case op::SetPrivacy:
                flag(setting::Privacy);
                if (cmd.params.at(0)) {
                    privacy_irk.emplace();
                    std::copy(cmd.params.begin() + 1, cmd.params.begin() + 1 + privacy_irk->size(),
                              privacy_irk->begin());
                }
                break;
            case op::SetBrEdr: flag(setting::BrEdr); break;
            case op::SetBondable: flag(setting::Bondable); break;
            case op::SetSecureConnections: flag(setting::SecureConnections); break;
            case op::SetStaticAddress: static_address = Address::from_le(cmd.params); break;
            case op::SetIoCapability:
            case op::LoadLongTermKeys:
            case op::LoadLinkKeys:
            case op::LoadIdentityResolvingKeys:
                return {command_complete(cmd.index, cmd.code, mgmt::status::Success, {})};
            case op::SetLocalName:
                name = ByteReader(cmd.params).fixed_string(mgmt::kNameSize);
                return {command_complete(cmd.index, cmd.code, mgmt::status::Success, cmd.params)};
        }
        return {command_complete(cmd.index, cmd.code, mgmt::status::Success, settings_bytes(settings))};
    }
};

// Read Controller Information of a dual-mode controller with privacy.
inline mgmt::ControllerInfo info_with(Address address) {
    mgmt::ControllerInfo info{};
    info.address = address;
    info.supported_settings =
        mgmt::setting::Powered | mgmt::setting::BrEdr | mgmt::setting::LowEnergy | mgmt::setting::Privacy;
    info.current_settings = mgmt::setting::BrEdr;
    info.name = "BlueZ";
    return info;
}

// The mgmt port (answered by `controller`), the HCI port (accepting every
// command) and the timers an adapter is built on; adapters made with
// make_adapter() share them, as the adapters of successive daemons share a
// controller.
struct AdapterPorts {
    FakeMgmtPort port;
    FakeController controller;
    mgmt::MgmtClient mgmt{port, std::chrono::milliseconds(10)};
    FakeHciPort hci_port;
    hci::HciClient hci{hci_port, std::chrono::milliseconds(10)};
    FakeTimers timers;

    AdapterPorts() {
        port.responder = [this](const mgmt::Frame& f) { return controller(f); };
        hci_port.responder = accepting_controller(false);
    }
    AdapterPorts(const AdapterPorts&) = delete;
    AdapterPorts& operator=(const AdapterPorts&) = delete;

    std::unique_ptr<ble::Adapter> make_adapter(sm::BondStore* bonds, Address address = kPublic) {
        return std::make_unique<ble::Adapter>(0, mgmt, info_with(address), hci, timers, nullptr, bonds);
    }
};

// One adapter on AdapterPorts, with the bond store given (none by default).
struct AdapterFixture : AdapterPorts {
    std::vector<uint16_t> startup_opcodes;  // what the adapter sent while it was built
    ble::Adapter adapter;

    // Tests check the commands sent after the adapter's start-up (controller.opcodes).
    explicit AdapterFixture(Address address = kPublic, sm::BondStore* bonds = nullptr)
        : adapter(0, mgmt, info_with(address), hci, timers, nullptr, bonds) {
        startup_opcodes.swap(controller.opcodes);
    }

    // A central connects to us: the controller's LE Connection Complete.
    void connect_central(uint16_t handle, const LeAddress& peer = {0, kPublic}) {
        ByteWriter w;
        w.u8(hci::le_ev::ConnectionComplete).u8(0).u16le(handle).u8(hci::kRolePeripheral).u8(peer.type);
        w.bytes(peer.address.to_le()).u16le(0x28).u16le(0).u16le(0x2a).u8(0);
        hci_port.incoming.push_back(hci_event(hci::ev::LeMeta, w.take()));
        hci.drain_port();
        adapter.dispatch_hci_events();
    }
};

}  // namespace ubt::test
