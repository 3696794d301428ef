#pragma once
// struct sockaddr_l2 for LE addresses: ours (ubluetooth address type 0
// public, 1 random; six bytes most significant first) to the kernel's and
// back.

#include <bluetooth/bluetooth.h>
#include <bluetooth/l2cap.h>

#include <cstdint>

#include "core/address.hpp"

namespace ubt::linux_bt {

sockaddr_l2 l2cap_address(const LeAddress& address, uint16_t psm, uint16_t cid);
LeAddress le_address_of(const sockaddr_l2& s);

}  // namespace ubt::linux_bt
