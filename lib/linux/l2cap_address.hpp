#pragma once
// sockaddr_l2 for the LE ATT channel, and back.

#include <bluetooth/bluetooth.h>
#include <bluetooth/l2cap.h>

#include <algorithm>
#include <cstring>

#include "core/address.hpp"

namespace ubt::linux_bt {

constexpr uint16_t kAttCid = 4;

inline sockaddr_l2 att_address(const LeAddress& a) {
    sockaddr_l2 s;
    std::memset(&s, 0, sizeof s);
    s.l2_family = AF_BLUETOOTH;
    s.l2_cid = htobs(kAttCid);
    auto le = a.address.to_le();
    std::copy(le.begin(), le.end(), s.l2_bdaddr.b);
    s.l2_bdaddr_type = a.type == 0 ? BDADDR_LE_PUBLIC : BDADDR_LE_RANDOM;
    return s;
}

inline LeAddress le_address_of(const sockaddr_l2& s) {
    return {static_cast<uint8_t>(s.l2_bdaddr_type == BDADDR_LE_PUBLIC ? 0 : 1),
            Address::from_le(ByteView(s.l2_bdaddr.b, 6))};
}

}  // namespace ubt::linux_bt
