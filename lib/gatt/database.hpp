#pragma once
// The GATT server's attribute table, built from gatts_register_services'
// definition as ubluetooth describes it: the GAP (0x1800) and GATT (0x1801)
// services first, then each service with its characteristics (declaration,
// value, a CCCD right after the value when it notifies or indicates) and
// their descriptors. Holds the values and their sizes; no I/O.

#include <cstdint>
#include <string>
#include <vector>

#include "att/uuid.hpp"
#include "core/bytes.hpp"

namespace ubt::gatt {

// ubluetooth's characteristic and descriptor flags.
namespace flag {
constexpr uint32_t Broadcast = 0x0001;
constexpr uint32_t Read = 0x0002;
constexpr uint32_t WriteNoResponse = 0x0004;
constexpr uint32_t Write = 0x0008;
constexpr uint32_t Notify = 0x0010;
constexpr uint32_t Indicate = 0x0020;
constexpr uint32_t AuthenticatedSignedWrite = 0x0040;
constexpr uint32_t AuxWrite = 0x0100;
constexpr uint32_t ReadEncrypted = 0x0200;
constexpr uint32_t ReadAuthenticated = 0x0400;
constexpr uint32_t ReadAuthorized = 0x0800;
constexpr uint32_t WriteEncrypted = 0x1000;
constexpr uint32_t WriteAuthenticated = 0x2000;
constexpr uint32_t WriteAuthorized = 0x4000;
constexpr uint32_t All = 0x7f7f;
}  // namespace flag

namespace uuid16 {
constexpr uint16_t PrimaryService = 0x2800;
constexpr uint16_t SecondaryService = 0x2801;
constexpr uint16_t Characteristic = 0x2803;
constexpr uint16_t Cccd = 0x2902;
constexpr uint16_t GapService = 0x1800;
constexpr uint16_t GattService = 0x1801;
constexpr uint16_t DeviceName = 0x2a00;
constexpr uint16_t Appearance = 0x2a01;
constexpr uint16_t ServiceChanged = 0x2a05;
}  // namespace uuid16

struct DescriptorDef {
    att::Uuid uuid;
    uint32_t flags;
};
struct CharacteristicDef {
    att::Uuid uuid;
    uint32_t flags;
    std::vector<DescriptorDef> descriptors;
};
struct ServiceDef {
    att::Uuid uuid;
    std::vector<CharacteristicDef> characteristics;
};

struct Attribute {
    uint16_t handle;
    att::Uuid type;
    Bytes value;
    // Access and security flags (flag::*); declarations are read-only.
    uint32_t flags;
    // Service declarations: the last handle of the service.
    uint16_t group_end = 0;
    // Values a client writes are cut to this; a local write raises it.
    size_t capacity = kDefaultCapacity;
    // A value of the application's services (a characteristic or descriptor
    // it defined): gatts_* may use it, reads of it may be asked about.
    bool app_value = false;
    // gatts_set_buffer(append=True): a client's writes add to the value.
    bool append = false;

    static constexpr size_t kDefaultCapacity = 20;
};

class Database {
public:
    // Replaces every service. Returns the value handles per service,
    // characteristics and descriptors flattened in definition order.
    // Throws BleError(InvalidArgs) for unknown flags or too many attributes;
    // then the table is left as it was.
    std::vector<std::vector<uint16_t>> build(const std::vector<ServiceDef>& services, const std::string& device_name);
    // What build() rejects, without building.
    static void check(const std::vector<ServiceDef>& services);

    const std::vector<Attribute>& attributes() const { return attributes_; }
    // nullptr when there is no attribute with that handle.
    Attribute* find(uint16_t handle);
    // The application's value with that handle; throws BleError(InvalidArgs)
    // for any other handle.
    Attribute& app_value(uint16_t handle);

    // The handle of the GAP Device Name value, kept equal to gap_name.
    uint16_t device_name_handle() const { return device_name_handle_; }

private:
    uint16_t add(att::Uuid type, Bytes value, uint32_t flags);
    uint16_t add_characteristic(const att::Uuid& uuid, uint32_t flags, Bytes value);

    std::vector<Attribute> attributes_;
    uint16_t device_name_handle_ = 0;
};

}  // namespace ubt::gatt
