#include "error.hpp"

namespace ubt {

const char* error_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::InvalidArgs: return "InvalidArgs";
        case ErrorCode::NotActive: return "NotActive";
        case ErrorCode::NotImplemented: return "NotImplemented";
        case ErrorCode::NotSupported: return "NotSupported";
        case ErrorCode::NotFound: return "NotFound";
        case ErrorCode::Busy: return "Busy";
        case ErrorCode::InProgress: return "InProgress";
        case ErrorCode::Failed: return "Failed";
        case ErrorCode::Timeout: return "Timeout";
    }
    return "Failed";
}

}  // namespace ubt
