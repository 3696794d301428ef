#include "l2cap_address.hpp"

#include <algorithm>

namespace ubt::linux_bt {

sockaddr_l2 l2cap_address(const LeAddress& address, uint16_t psm, uint16_t cid) {
    sockaddr_l2 s{};
    s.l2_family = AF_BLUETOOTH;
    s.l2_psm = htobs(psm);
    s.l2_cid = htobs(cid);
    auto le = address.address.to_le();
    std::copy(le.begin(), le.end(), s.l2_bdaddr.b);
    s.l2_bdaddr_type = address.type == 0 ? BDADDR_LE_PUBLIC : BDADDR_LE_RANDOM;
    return s;
}

LeAddress le_address_of(const sockaddr_l2& s) {
    return {static_cast<uint8_t>(s.l2_bdaddr_type == BDADDR_LE_PUBLIC ? 0 : 1),
            Address::from_le(ByteView(s.l2_bdaddr.b, 6))};
}

}  // namespace ubt::linux_bt
