#include "bond_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "core/error.hpp"

namespace ubt::linux_bt {

namespace {

constexpr mode_t kDirMode = 0700;
constexpr mode_t kFileMode = 0600;
constexpr std::string_view kBondSuffix = ".bond";
constexpr std::string_view kTmpSuffix = ".tmp";
constexpr std::string_view kIdentityName = "identity";

[[noreturn]] void fail(const std::string& path, const std::string& step, int error) {
    throw BleError(ErrorCode::Failed, path + ": " + step + ": " + std::strerror(error));
}

std::string compact_address(const Address& address) {
    char buf[13];
    const auto& b = address.msb_first;
    std::snprintf(buf, sizeof buf, "%02X%02X%02X%02X%02X%02X", b[0], b[1], b[2], b[3], b[4], b[5]);
    return buf;
}

std::string octal_mode(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

// Opens the daemon's state directory, making it with mode 0700 if absent. It
// may be a symbolic link, and its owner and mode are the service's business.
UniqueFd open_or_make_root(const std::string& root) {
    if (::mkdir(root.c_str(), kDirMode) < 0 && errno != EEXIST) fail(root, "mkdir", errno);
    UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) fail(root, "open", errno);
    return fd;
}

// Opens our directory `name` below parent, making it with mode 0700 if absent.
// It must be a directory of ours, not a symbolic link; a mode other than 0700
// is set to 0700 (reported if group or others had access).
UniqueFd open_or_make_private_dir(int parent, const std::string& name, const std::string& path,
                                  std::vector<BondProblem>& problems) {
    bool created = ::mkdirat(parent, name.c_str(), kDirMode) == 0;
    if (!created && errno != EEXIST) fail(path, "mkdir", errno);
    // A new directory's entry must be durable before a bond in it counts as stored.
    if (created && ::fsync(parent) < 0) fail(path, "fsync of the parent directory", errno);
    UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ELOOP || errno == ENOTDIR) {
            throw BleError(ErrorCode::Failed, path + ": not a directory (or a symbolic link)");
        }
        fail(path, "open", errno);
    }
    struct stat st{};
    if (::fstat(fd.get(), &st) < 0) fail(path, "stat", errno);
    if (st.st_uid != ::geteuid()) {
        throw BleError(ErrorCode::Failed, path + ": owned by uid " + std::to_string(st.st_uid) +
                                              ", not by this process's uid " + std::to_string(::geteuid()));
    }
    if ((st.st_mode & 07777) != kDirMode) {
        if (::fchmod(fd.get(), kDirMode) < 0) fail(path, "chmod 0700", errno);
        if (st.st_mode & 077) {
            problems.push_back({path, "directory mode was " + octal_mode(st.st_mode) + ", set to 0700"});
        }
    }
    return fd;
}

void write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(path, "write", errno);
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
}

void fsync_directory(int dir, const std::string& path) {
    if (::fsync(dir) < 0) fail(path, "fsync of the directory", errno);
}

// A file's text, or why it was not read.
struct FileText {
    enum Failure { None, Missing, Error, Refused };
    Failure failure = None;  // Missing: no such file; Error: I/O; Refused: not a private regular file
    std::string text;
    std::string problem;  // when failure != None
};

// Reads a file of ours in dir: opened with O_NOFOLLOW, and only a regular
// file owned by this process's uid that group and others cannot use. At most
// max_size + 1 bytes are read: the decoder reports a file that is too big.
FileText read_private_file(int dir, const std::string& name, size_t max_size) {
    UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) {
        int error = errno;
        if (error == ELOOP) return {FileText::Refused, {}, "a symbolic link"};
        return {error == ENOENT ? FileText::Missing : FileText::Error, {},
                std::string("cannot open: ") + std::strerror(error)};
    }
    struct stat st{};
    if (::fstat(fd.get(), &st) < 0) return {FileText::Error, {}, std::string("stat: ") + std::strerror(errno)};
    if (!S_ISREG(st.st_mode)) return {FileText::Refused, {}, "not a regular file"};
    if (st.st_uid != ::geteuid()) {
        return {FileText::Refused, {},
                "owned by uid " + std::to_string(st.st_uid) + ", not by this process's uid " +
                    std::to_string(::geteuid())};
    }
    if (st.st_mode & 077) {
        return {FileText::Refused, {}, "mode " + octal_mode(st.st_mode) + " lets group or others at the keys"};
    }
    std::string text(max_size + 1, '\0');
    size_t size = 0;
    while (size < text.size()) {
        ssize_t n = ::read(fd.get(), text.data() + size, text.size() - size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return {FileText::Error, {}, std::string("read: ") + std::strerror(errno)};
        }
        if (n == 0) break;
        size += static_cast<size_t>(n);
    }
    text.resize(size);
    return {FileText::None, std::move(text), {}};
}

// Writes the file `name` in dir durably, replacing the previous one: a
// temporary <name>.tmp (0600, O_EXCL, a stale one removed first) is written,
// fsynced and renamed over <name>, then the directory is fsynced. If it
// throws, the previous file is untouched.
void write_private_file(int dir, const std::string& directory, const std::string& name, std::string_view text) {
    std::string tmp = name + std::string(kTmpSuffix);
    std::string tmp_path = directory + "/" + tmp;

    if (::unlinkat(dir, tmp.c_str(), 0) < 0 && errno != ENOENT) fail(tmp_path, "remove stale file", errno);
    UniqueFd fd(::openat(dir, tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, kFileMode));
    if (!fd) fail(tmp_path, "create", errno);
    try {
        // The umask may have taken bits away; the mode must be exactly 0600.
        if (::fchmod(fd.get(), kFileMode) < 0) fail(tmp_path, "chmod 0600", errno);
        write_all(fd.get(), text, tmp_path);
        if (::fsync(fd.get()) < 0) fail(tmp_path, "fsync", errno);
        if (::close(fd.release()) < 0) fail(tmp_path, "close", errno);
        if (::renameat(dir, tmp.c_str(), dir, name.c_str()) < 0) fail(tmp_path, "rename to " + name, errno);
    } catch (...) {
        ::unlinkat(dir, tmp.c_str(), 0);
        throw;
    }
    fsync_directory(dir, directory);
}

// The file's bond, or the reason it is not loaded.
struct ReadResult {
    std::optional<sm::Bond> bond;
    std::string problem;
};

ReadResult read_bond(int dir, const std::string& name) {
    FileText file = read_private_file(dir, name, sm::kMaxBondFileSize);
    if (file.failure != FileText::None) return {std::nullopt, file.problem + "; not loaded"};
    sm::Bond bond;
    try {
        bond = sm::decode(file.text);
    } catch (const BleError& e) {
        return {std::nullopt, std::string(e.what()) + "; not loaded"};
    }
    std::string expected = BondFiles::file_name(bond.peer);
    if (expected != name) {
        return {std::nullopt, "holds the bond of " + bond.peer.address.to_string() + ", whose file is " + expected +
                                  "; not loaded"};
    }
    return {bond, {}};
}

}  // namespace

BondFiles::BondFiles(const std::string& root, const Address& adapter) {
    UniqueFd root_fd = open_or_make_root(root);
    std::string bonds_path = root + "/bonds";
    UniqueFd bonds_fd = open_or_make_private_dir(root_fd.get(), "bonds", bonds_path, directory_problems_);
    std::string name = compact_address(adapter);
    directory_ = bonds_path + "/" + name;
    dir_ = open_or_make_private_dir(bonds_fd.get(), name, directory_, directory_problems_);
}

std::string BondFiles::file_name(const LeAddress& peer) {
    return (peer.type == 0 ? "public-" : "random-") + compact_address(peer.address) + std::string(kBondSuffix);
}

void BondFiles::store(const sm::Bond& bond) {
    write_private_file(dir_.get(), directory_, file_name(bond.peer), sm::encode(bond));
}

std::optional<sm::LocalIdentity> BondFiles::load_identity() {
    std::string path = directory_ + "/" + std::string(kIdentityName);
    FileText file = read_private_file(dir_.get(), std::string(kIdentityName), sm::kMaxIdentityFileSize);
    switch (file.failure) {
        case FileText::Missing: return std::nullopt;
        case FileText::Error: throw BleError(ErrorCode::Failed, path + ": " + file.problem);
        case FileText::Refused: throw BleError(ErrorCode::Failed, path + ": " + file.problem + " (left as it is)");
        case FileText::None: break;
    }
    try {
        return sm::decode_identity(file.text);
    } catch (const BleError& e) {
        throw BleError(ErrorCode::InvalidArgs, path + ": " + e.what());
    }
}

void BondFiles::store_identity(const sm::LocalIdentity& identity) {
    write_private_file(dir_.get(), directory_, std::string(kIdentityName), sm::encode(identity));
}

void BondFiles::remove(const LeAddress& peer) {
    std::string name = file_name(peer);
    if (::unlinkat(dir_.get(), name.c_str(), 0) < 0) {
        if (errno == ENOENT) throw BleError(ErrorCode::NotFound, "no bond with " + peer.address.to_string());
        fail(directory_ + "/" + name, "remove", errno);
    }
    fsync_directory(dir_.get(), directory_);
}

LoadedBonds BondFiles::load() {
    LoadedBonds result;
    result.problems = std::move(directory_problems_);
    directory_problems_.clear();

    std::vector<std::string> names;
    {
        int fd = ::openat(dir_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) fail(directory_, "open", errno);
        DIR* dir = ::fdopendir(fd);
        if (!dir) {
            int error = errno;
            ::close(fd);
            fail(directory_, "opendir", error);
        }
        errno = 0;
        while (const dirent* entry = ::readdir(dir)) {
            std::string name = entry->d_name;
            if (name != "." && name != "..") names.push_back(std::move(name));
            errno = 0;
        }
        int error = errno;
        ::closedir(dir);
        if (error != 0) fail(directory_, "readdir", error);
    }
    std::sort(names.begin(), names.end());

    for (const auto& name : names) {
        std::string path = directory_ + "/" + name;
        if (name.ends_with(kTmpSuffix)) {
            if (::unlinkat(dir_.get(), name.c_str(), 0) == 0) {
                result.problems.push_back({path, "temporary file of an interrupted write; deleted"});
            } else {
                result.problems.push_back(
                    {path, std::string("temporary file of an interrupted write; cannot delete: ") + std::strerror(errno)});
            }
        } else if (name.ends_with(kBondSuffix)) {
            ReadResult read = read_bond(dir_.get(), name);
            if (read.bond) result.bonds.push_back(std::move(*read.bond));
            else result.problems.push_back({path, read.problem});
        } else if (name != kIdentityName) {
            result.problems.push_back({path, "not a bond file; ignored"});
        }
    }
    return result;
}

}  // namespace ubt::linux_bt
