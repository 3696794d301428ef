#include "database.hpp"

#include <limits>
#include <string>
#include <utility>

#include "core/error.hpp"

namespace ubt::gatt {

namespace {

// The characteristic properties octet: the low flags are the Core spec's bits.
constexpr uint32_t kPropertyFlags = 0x7f;

void check_flags(uint32_t flags, const att::Uuid& uuid) {
    if (flags & ~flag::All) {
        throw BleError(ErrorCode::InvalidArgs, "flags " + std::to_string(flags) + " of " + uuid.to_string() +
                                                   " has bits ubluetooth does not define (" +
                                                   std::to_string(flags & ~flag::All) + ")");
    }
}

size_t attribute_count(const std::vector<ServiceDef>& services) {
    size_t n = 9;  // the GAP and GATT services
    for (const auto& s : services) {
        ++n;
        for (const auto& c : s.characteristics) {
            n += 2 + c.descriptors.size();
            if (c.flags & (flag::Notify | flag::Indicate)) ++n;
        }
    }
    return n;
}

}  // namespace

uint16_t Database::add(att::Uuid type, Bytes value, uint32_t flags) {
    auto handle = static_cast<uint16_t>(attributes_.size() + 1);
    attributes_.push_back(Attribute{handle, std::move(type), std::move(value), flags});
    return handle;
}

uint16_t Database::add_characteristic(const att::Uuid& uuid, uint32_t flags, Bytes value) {
    // Declaration: properties, the value's handle (the next one), the UUID.
    auto value_handle = static_cast<uint16_t>(attributes_.size() + 2);
    ByteWriter declaration;
    declaration.u8(static_cast<uint8_t>(flags & kPropertyFlags)).u16le(value_handle).bytes(uuid.att_bytes());
    add(att::Uuid::from16(uuid16::Characteristic), declaration.take(), flag::Read);
    add(uuid, std::move(value), flags);
    if (flags & (flag::Notify | flag::Indicate)) {
        add(att::Uuid::from16(uuid16::Cccd), Bytes{0x00, 0x00}, flag::Read | flag::Write);
    }
    return value_handle;
}

void Database::check(const std::vector<ServiceDef>& services) {
    for (const auto& s : services) {
        for (const auto& c : s.characteristics) {
            check_flags(c.flags, c.uuid);
            for (const auto& d : c.descriptors) check_flags(d.flags, d.uuid);
        }
    }
    if (attribute_count(services) > std::numeric_limits<uint16_t>::max()) {
        throw BleError(ErrorCode::InvalidArgs, "the services need more than 65535 attribute handles");
    }
}

std::vector<std::vector<uint16_t>> Database::build(const std::vector<ServiceDef>& services,
                                                   const std::string& device_name) {
    check(services);

    attributes_.clear();
    auto service = [this](const att::Uuid& uuid) {
        return add(att::Uuid::from16(uuid16::PrimaryService), uuid.att_bytes(), flag::Read);
    };
    auto close_group = [this](uint16_t service_handle) {
        attributes_[service_handle - 1].group_end = static_cast<uint16_t>(attributes_.size());
    };

    uint16_t gap = service(att::Uuid::from16(uuid16::GapService));
    device_name_handle_ = add_characteristic(att::Uuid::from16(uuid16::DeviceName), flag::Read,
                                             Bytes(device_name.begin(), device_name.end()));
    add_characteristic(att::Uuid::from16(uuid16::Appearance), flag::Read, Bytes{0x00, 0x00});  // unknown
    close_group(gap);
    uint16_t gatt = service(att::Uuid::from16(uuid16::GattService));
    add_characteristic(att::Uuid::from16(uuid16::ServiceChanged), flag::Indicate, Bytes{0x00, 0x00, 0x00, 0x00});
    close_group(gatt);

    std::vector<std::vector<uint16_t>> handles;
    for (const auto& s : services) {
        uint16_t start = service(s.uuid);
        auto& values = handles.emplace_back();
        for (const auto& c : s.characteristics) {
            uint16_t value = add_characteristic(c.uuid, c.flags, {});
            attributes_[value - 1].app_value = true;
            values.push_back(value);
            for (const auto& d : c.descriptors) {
                values.push_back(add(d.uuid, {}, d.flags));
                attributes_.back().app_value = true;
            }
        }
        close_group(start);
    }
    return handles;
}

Attribute* Database::find(uint16_t handle) {
    if (handle == 0 || handle > attributes_.size()) return nullptr;
    return &attributes_[handle - 1];
}

Attribute& Database::app_value(uint16_t handle) {
    Attribute* a = find(handle);
    if (!a || !a->app_value) {
        throw BleError(ErrorCode::InvalidArgs, "handle " + std::to_string(handle) +
                                                   " is not a value handle that gatts_register_services returned");
    }
    return *a;
}

}  // namespace ubt::gatt
