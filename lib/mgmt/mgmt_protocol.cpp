#include "mgmt_protocol.hpp"

namespace ubt::mgmt {

const char* status_name(uint8_t s) {
    static const char* const names[] = {
        "Success",         "Unknown Command",    "Not Connected",  "Failed",
        "Connect Failed",  "Authentication Failed", "Not Paired",  "No Resources",
        "Timeout",         "Already Connected",  "Busy",           "Rejected",
        "Not Supported",   "Invalid Parameters", "Disconnected",   "Not Powered",
        "Cancelled",       "Invalid Index",      "RFKilled",       "Already Paired",
        "Permission Denied",
    };
    return s < sizeof names / sizeof names[0] ? names[s] : "Unknown Status";
}

const char* opcode_name(uint16_t opcode) {
    switch (opcode) {
        case op::ReadIndexList: return "Read Index List";
        case op::ReadInfo: return "Read Controller Information";
        case op::SetPowered: return "Set Powered";
        case op::SetLowEnergy: return "Set Low Energy";
        case op::SetLocalName: return "Set Local Name";
        case op::SetBrEdr: return "Set BR/EDR";
        case op::SetStaticAddress: return "Set Static Address";
        case op::SetPrivacy: return "Set Privacy";
    }
    return "Unknown Command";
}

}  // namespace ubt::mgmt
