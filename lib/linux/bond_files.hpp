#pragma once
// The bond files of one adapter, <root>/bonds/<adapter>/<peer>.bond, and its
// own identity, <root>/bonds/<adapter>/identity: owns the open directory.
// Blocking file I/O (store() waits for fsync): the daemon's loop thread only,
// one BondFiles per adapter directory.

#include <optional>
#include <string>
#include <vector>

#include "core/address.hpp"
#include "fd.hpp"
#include "sm/bond_store.hpp"

namespace ubt::linux_bt {

using sm::BondProblem;  // a file load() skipped or deleted, and why
using sm::LoadedBonds;  // bonds in file name order

// Layout (the root is the daemon's state directory, /var/lib/ubluetoothd):
//   <root>/bonds/                      0700
//   <root>/bonds/00AA01000000/         0700, the adapter's identity address
//   <root>/bonds/00AA01000000/random-C0AA01010001.bond   0600, sm::encode()
//   <root>/bonds/00AA01000000/identity                   0600, sm::encode(LocalIdentity)
// A bond file is named by the peer's identity address type (public or random)
// and address, most significant byte first. `bonds` and the adapter directory
// must not be symbolic links (the root may be, as systemd's DynamicUser makes
// it); files are opened with O_NOFOLLOW.
class BondFiles : public sm::BondStore {
public:
    // Opens the adapter's directory, creating the root, `bonds` and the
    // adapter directory with mode 0700 as needed. An existing directory that
    // group or others may use is set to 0700, and load() reports it. Throws
    // BleError(Failed) naming the path when a directory cannot be made or
    // opened, is a symbolic link, or belongs to another user.
    BondFiles(const std::string& root, const Address& adapter);

    const std::string& directory() const { return directory_; }
    // "public-00AA01010001.bond" or "random-C0AA01010001.bond".
    static std::string file_name(const LeAddress& peer);

    // Writes the bond durably, replacing the peer's previous bond: a
    // temporary <name>.tmp (0600, O_EXCL, a stale one removed first) is
    // written, fsynced and renamed over <name>, then the directory is
    // fsynced. When it returns, the bond survives a crash or power loss; if it
    // throws, the previous file is untouched. Throws BleError(InvalidArgs) for
    // an invalid bond (sm::validate) and BleError(Failed) for a file system
    // error.
    void store(const sm::Bond& bond) override;
    // Deletes the peer's bond file and fsyncs the directory. Throws
    // BleError(NotFound) when there is none, BleError(Failed) on other errors.
    void remove(const LeAddress& peer) override;
    // Reads every *.bond file. Never throws for one file's trouble: a file
    // that is unreadable, malformed, truncated, altered (CRC), named for a
    // different peer, not a regular file, a symbolic link, owned by another
    // user or open to group or others (mode & 077) is skipped, left in place
    // and reported. A *.tmp left by an interrupted store() is deleted and
    // reported; other files but `identity` are ignored and reported. Throws
    // BleError(Failed) only when the directory cannot be read.
    LoadedBonds load() override;

    // The file `identity`: nullopt when there is none. A file that fails the
    // checks load() makes of a bond file (or sm::decode_identity) throws
    // BleError(InvalidArgs), one that cannot be opened or read
    // BleError(Failed); the message names the path and the reason.
    std::optional<sm::LocalIdentity> load_identity() override;
    // Writes `identity` durably, as store() writes a bond (identity.tmp first).
    void store_identity(const sm::LocalIdentity& identity) override;

private:
    std::string directory_;
    UniqueFd dir_;
    std::vector<BondProblem> directory_problems_;  // reported by the next load()
};

}  // namespace ubt::linux_bt
