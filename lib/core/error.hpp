#pragma once
// Errors a caller of the ubluetooth facade can act on. The D-Bus adaptor turns
// each code into org.ubluetooth.Error.<Name>.

#include <stdexcept>
#include <string>

namespace ubt {

enum class ErrorCode {
    InvalidArgs,     // a value of the wrong type, out of range, unknown key
    NotActive,       // the radio must be active(True) first
    NotImplemented,  // part of the API not built yet
    NotSupported,    // the controller cannot do it
    NotFound,        // no such object, handler, connection
    Busy,            // the adapter is doing something that excludes this
    InProgress,      // the same operation is already running
    Failed,          // the kernel or controller refused; the message says why
    Timeout,         // no answer in time
};

const char* error_name(ErrorCode code);

class BleError : public std::runtime_error {
public:
    BleError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ErrorCode code() const { return code_; }

private:
    ErrorCode code_;
};

}  // namespace ubt
