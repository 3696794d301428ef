#include "le_features.hpp"

#include "core/error.hpp"

namespace ubt::gap {

bool LeFeatures::extended() {
    if (!extended_) {
        auto reply = hci_.checked(hci::le_read_local_features(), "LE Read Local Supported Features");
        auto features = hci::decode_le_features(reply.reply);
        if (!features) throw BleError(ErrorCode::Failed, "the controller sent unreadable LE features");
        extended_ = (*features & hci::kLeFeatureExtendedAdvertising) != 0;
    }
    return *extended_;
}

}  // namespace ubt::gap
