#include "fd.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace ubt::linux_bt {

namespace {
[[noreturn]] void fail(const char* what, const char* step) {
    throw std::system_error(errno, std::generic_category(), std::string(what) + " " + step);
}
}  // namespace

void send_packet(int fd, ByteView packet, const char* what) {
    ssize_t n;
    do n = ::send(fd, packet.data(), packet.size(), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) fail(what, "send");
    if (static_cast<size_t>(n) != packet.size()) {
        throw std::system_error(EIO, std::generic_category(), std::string(what) + " send: short write");
    }
}

std::optional<Bytes> receive_packet(int fd, std::chrono::milliseconds timeout, size_t max_size, const char* what) {
    pollfd p{fd, POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    while (r < 0 && errno == EINTR);
    if (r < 0) fail(what, "poll");
    if (r == 0) return std::nullopt;
    Bytes buf(max_size);
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return std::nullopt;
        fail(what, "recv");
    }
    buf.resize(static_cast<size_t>(n));
    return buf;
}

}  // namespace ubt::linux_bt
