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
        case op::SetBondable: return "Set Bondable";
        case op::SetSsp: return "Set Secure Simple Pairing";
        case op::SetLowEnergy: return "Set Low Energy";
        case op::SetLocalName: return "Set Local Name";
        case op::LoadLinkKeys: return "Load Link Keys";
        case op::LoadLongTermKeys: return "Load Long Term Keys";
        case op::SetIoCapability: return "Set IO Capability";
        case op::PairDevice: return "Pair Device";
        case op::CancelPairDevice: return "Cancel Pair Device";
        case op::UnpairDevice: return "Unpair Device";
        case op::UserConfirmReply: return "User Confirmation Reply";
        case op::UserConfirmNegReply: return "User Confirmation Negative Reply";
        case op::UserPasskeyReply: return "User Passkey Reply";
        case op::UserPasskeyNegReply: return "User Passkey Negative Reply";
        case op::SetBrEdr: return "Set BR/EDR";
        case op::SetStaticAddress: return "Set Static Address";
        case op::SetSecureConnections: return "Set Secure Connections";
        case op::SetPrivacy: return "Set Privacy";
        case op::LoadIdentityResolvingKeys: return "Load Identity Resolving Keys";
    }
    return "Unknown Command";
}

}  // namespace ubt::mgmt
