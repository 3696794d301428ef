#pragma once
// An owned file descriptor, closed on destruction, and the packet I/O the
// Bluetooth sockets share.

#include <unistd.h>

#include <chrono>
#include <optional>
#include <utility>

#include "core/bytes.hpp"

namespace ubt::linux_bt {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    // Gives up ownership: the caller closes it.
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_ = -1;
};

// Sends one packet; throws std::system_error naming `what`.
void send_packet(int fd, ByteView packet, const char* what);
// Waits up to timeout for one packet of at most max_size bytes; nullopt when
// none came. Throws std::system_error naming `what`.
std::optional<Bytes> receive_packet(int fd, std::chrono::milliseconds timeout, size_t max_size, const char* what);

}  // namespace ubt::linux_bt
