// The bond files of an adapter (lib/linux/bond_files.hpp) in a temporary
// directory: layout and modes, store/replace/remove, load() skipping and
// reporting bad files, and bonds surviving kill -9 in the middle of writes.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "error_of.hpp"
#include "linux/bond_files.hpp"

using namespace ubt;
using namespace ubt::linux_bt;
using Catch::Matchers::Contains;
using test::error_of;
namespace fs = std::filesystem;

namespace {

// A fresh directory, removed with everything in it at the end of the test.
class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "ubt-bonds-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

const Address kAdapter = *Address::parse("00:AA:01:00:00:00");

sm::Bond bond_for(const LeAddress& peer, uint32_t seed) {
    sm::Bond b;
    b.peer = peer;
    sm::Ltk k;
    k.type = sm::LtkType::AuthenticatedP256;
    k.enc_size = 16;
    for (size_t i = 0; i < 4; ++i) k.rand[i] = static_cast<uint8_t>(seed >> (8 * i));
    for (size_t i = 0; i < k.val.size(); ++i) k.val[i] = static_cast<uint8_t>(seed * 31 + i);
    b.ltks = {k};
    b.irk = sm::IrkValue{};
    (*b.irk)[0] = static_cast<uint8_t>(seed);
    return b;
}

uint32_t seed_of(const sm::Bond& b) {
    uint32_t seed = 0;
    for (size_t i = 0; i < 4; ++i) seed |= uint32_t{b.ltks.at(0).rand[i]} << (8 * i);
    return seed;
}

const LeAddress kPublicPeer{0, *Address::parse("00:AA:01:01:00:42")};
const LeAddress kRandomPeer{1, *Address::parse("C0:AA:01:01:00:01")};

mode_t mode_of(const std::string& path) {
    struct stat st{};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_text(const std::string& path, const std::string& text, mode_t mode = 0600) {
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << text;
    }
    REQUIRE(::chmod(path.c_str(), mode) == 0);
}

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

// path -> reason, with the path relative to the adapter's directory.
std::map<std::string, std::string> problems_of(const LoadedBonds& loaded, const BondFiles& files) {
    std::map<std::string, std::string> out;
    for (const auto& p : loaded.problems) {
        std::string name = p.path.starts_with(files.directory() + "/") ? p.path.substr(files.directory().size() + 1) : p.path;
        out[name] = p.reason;
    }
    return out;
}

}  // namespace

TEST_CASE("the adapter's directory is <root>/bonds/<address>, 0700, and bond files are 0600", "[bond]") {
    TempDir tmp;
    BondFiles files(tmp.path(), kAdapter);
    CHECK(files.directory() == tmp.path() + "/bonds/00AA01000000");
    CHECK(mode_of(tmp.path() + "/bonds") == 0700);
    CHECK(mode_of(files.directory()) == 0700);
    CHECK(files.load().bonds.empty());

    CHECK(BondFiles::file_name(kPublicPeer) == "public-00AA01010042.bond");
    CHECK(BondFiles::file_name(kRandomPeer) == "random-C0AA01010001.bond");

    mode_t old_umask = ::umask(0);  // the modes do not depend on the umask
    files.store(bond_for(kRandomPeer, 1));
    ::umask(old_umask);
    std::string path = files.directory() + "/random-C0AA01010001.bond";
    CHECK(mode_of(path) == 0600);
    CHECK(read_text(path) == sm::encode(bond_for(kRandomPeer, 1)));
    CHECK(files_in(files.directory()) == std::vector<std::string>{"random-C0AA01010001.bond"});
}

TEST_CASE("a missing root is made, and a second BondFiles sees the same bonds", "[bond]") {
    TempDir tmp;
    std::string root = tmp.path() + "/state";
    BondFiles(root, kAdapter).store(bond_for(kPublicPeer, 7));
    CHECK(mode_of(root) == 0700);
    auto loaded = BondFiles(root, kAdapter).load();
    CHECK(loaded.problems.empty());
    REQUIRE(loaded.bonds.size() == 1);
    CHECK(loaded.bonds[0] == bond_for(kPublicPeer, 7));
    // Another adapter has its own directory.
    CHECK(BondFiles(root, *Address::parse("00:AA:01:00:00:01")).load().bonds.empty());
}

TEST_CASE("store replaces the peer's bond, remove deletes it", "[bond]") {
    TempDir tmp;
    BondFiles files(tmp.path(), kAdapter);
    files.store(bond_for(kPublicPeer, 1));
    files.store(bond_for(kRandomPeer, 2));
    files.store(bond_for(kPublicPeer, 3));
    auto loaded = files.load();
    CHECK(loaded.problems.empty());
    CHECK(loaded.bonds == std::vector<sm::Bond>{bond_for(kPublicPeer, 3), bond_for(kRandomPeer, 2)});

    files.remove(kPublicPeer);
    CHECK(files.load().bonds == std::vector<sm::Bond>{bond_for(kRandomPeer, 2)});
    CHECK(error_of([&] { files.remove(kPublicPeer); }) == ErrorCode::NotFound);
    CHECK(files_in(files.directory()) == std::vector<std::string>{"random-C0AA01010001.bond"});
}

TEST_CASE("store removes a stale temporary file and refuses an invalid bond", "[bond]") {
    TempDir tmp;
    BondFiles files(tmp.path(), kAdapter);
    write_text(files.directory() + "/public-00AA01010042.bond.tmp", "half a bo", 0644);
    files.store(bond_for(kPublicPeer, 1));
    CHECK(files_in(files.directory()) == std::vector<std::string>{"public-00AA01010042.bond"});

    sm::Bond bad = bond_for(kRandomPeer, 2);
    bad.ltks[0].enc_size = 3;
    CHECK(error_of([&] { files.store(bad); }) == ErrorCode::InvalidArgs);
    CHECK(files_in(files.directory()) == std::vector<std::string>{"public-00AA01010042.bond"});
}

TEST_CASE("load skips and reports every bad file, and deletes stale temporary files", "[bond]") {
    TempDir tmp;
    BondFiles files(tmp.path(), kAdapter);
    const std::string dir = files.directory();
    files.store(bond_for(kPublicPeer, 1));
    const std::string good = sm::encode(bond_for(kRandomPeer, 2));

    std::string corrupt = good;
    corrupt[40] ^= 0x01;
    write_text(dir + "/random-C0AA01010002.bond", corrupt);
    write_text(dir + "/random-C0AA01010003.bond", good.substr(0, good.size() / 2));
    write_text(dir + "/random-C0AA01010004.bond", "");
    write_text(dir + "/random-C0AA01010001.bond", good, 0640);                // group-readable
    write_text(dir + "/random-C0AA01010005.bond", good);                      // someone else's content
    write_text(dir + "/random-C0AA01010006.bond.tmp", good.substr(0, 10));    // a store cut short
    write_text(dir + "/notes.txt", "hello");
    REQUIRE(::symlink("public-00AA01010042.bond", (dir + "/random-C0AA01010007.bond").c_str()) == 0);
    REQUIRE(::mkdir((dir + "/random-C0AA01010008.bond").c_str(), 0700) == 0);
    write_text(dir + "/random-C0AA01010009.bond", std::string(sm::kMaxBondFileSize + 10, 'x'));

    auto loaded = files.load();
    CHECK(loaded.bonds == std::vector<sm::Bond>{bond_for(kPublicPeer, 1)});
    auto problems = problems_of(loaded, files);
    CHECK(problems.size() == 10);
    CHECK_THAT(problems["random-C0AA01010002.bond"], Contains("crc32") && Contains("not loaded"));
    CHECK_THAT(problems["random-C0AA01010003.bond"], Contains("truncated"));
    CHECK_THAT(problems["random-C0AA01010004.bond"], Contains("empty"));
    CHECK_THAT(problems["random-C0AA01010001.bond"], Contains("mode 0640") && Contains("not loaded"));
    CHECK_THAT(problems["random-C0AA01010005.bond"], Contains("whose file is random-C0AA01010001.bond"));
    CHECK_THAT(problems["random-C0AA01010006.bond.tmp"], Contains("interrupted write; deleted"));
    CHECK_THAT(problems["notes.txt"], Contains("ignored"));
    CHECK_THAT(problems["random-C0AA01010007.bond"], Contains("symbolic link"));
    CHECK_THAT(problems["random-C0AA01010008.bond"], Contains("not a regular file"));
    CHECK_THAT(problems["random-C0AA01010009.bond"], Contains("more than 4096"));

    // Only the temporary file is gone; the rest is left for someone to look at.
    CHECK_FALSE(fs::exists(dir + "/random-C0AA01010006.bond.tmp"));
    CHECK(fs::exists(dir + "/random-C0AA01010002.bond"));
    CHECK(mode_of(dir + "/random-C0AA01010001.bond") == 0640);

    // A later store of that peer writes a good file again.
    files.store(bond_for(kRandomPeer, 2));
    CHECK(mode_of(dir + "/random-C0AA01010001.bond") == 0600);
}

TEST_CASE("a file of another user is not loaded", "[bond]") {
    if (::geteuid() != 0) return;  // only root can give a file away
    TempDir tmp;
    BondFiles files(tmp.path(), kAdapter);
    files.store(bond_for(kPublicPeer, 1));
    REQUIRE(::chown((files.directory() + "/public-00AA01010042.bond").c_str(), 65534, 65534) == 0);
    auto loaded = files.load();
    CHECK(loaded.bonds.empty());
    CHECK_THAT(problems_of(loaded, files)["public-00AA01010042.bond"], Contains("owned by uid 65534"));
}

TEST_CASE("an open directory is closed to 0700 and reported; a symlinked one is refused", "[bond]") {
    TempDir tmp;
    REQUIRE(::mkdir((tmp.path() + "/bonds").c_str(), 0755) == 0);
    REQUIRE(::chmod((tmp.path() + "/bonds").c_str(), 0755) == 0);
    BondFiles files(tmp.path(), kAdapter);
    CHECK(mode_of(tmp.path() + "/bonds") == 0700);
    auto problems = files.load().problems;
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].path == tmp.path() + "/bonds");
    CHECK_THAT(problems[0].reason, Contains("mode was 0755, set to 0700"));
    CHECK(files.load().problems.empty());  // reported once

    TempDir other;
    REQUIRE(::symlink((tmp.path() + "/bonds").c_str(), (other.path() + "/bonds").c_str()) == 0);
    try {
        BondFiles refused(other.path(), kAdapter);
        FAIL("a symlinked bonds directory was accepted");
    } catch (const BleError& e) {
        CHECK(e.code() == ErrorCode::Failed);
        CHECK_THAT(e.what(), Contains(other.path() + "/bonds") && Contains("symbolic link"));
    }
    write_text(other.path() + "/file", "x");
    CHECK(error_of([&] { BondFiles(other.path() + "/file", kAdapter); }) == ErrorCode::Failed);
}

TEST_CASE("the adapter's identity is kept in its directory's file identity, 0600, beside the bonds", "[bond]") {
    TempDir tmp;
    BondFiles files(tmp.path(), kAdapter);
    const std::string path = files.directory() + "/identity";
    const sm::LocalIdentity first{*Address::parse("C0:AA:01:00:00:01"), sm::IrkValue{1, 2, 3}};
    const sm::LocalIdentity second{*Address::parse("D1:02:03:04:05:06"), sm::IrkValue{9, 8, 7}};
    CHECK_FALSE(files.load_identity().has_value());

    mode_t old_umask = ::umask(0);
    files.store_identity(first);
    ::umask(old_umask);
    CHECK(mode_of(path) == 0600);
    CHECK(read_text(path) == sm::encode(first));
    CHECK(files.load_identity() == first);
    CHECK(BondFiles(tmp.path(), kAdapter).load_identity() == first);
    CHECK_FALSE(BondFiles(tmp.path(), *Address::parse("00:AA:01:00:00:01")).load_identity().has_value());

    files.store_identity(second);
    CHECK(files.load_identity() == second);
    sm::LocalIdentity bad = first;
    bad.static_address = *Address::parse("00:AA:01:00:00:01");
    CHECK(error_of([&] { files.store_identity(bad); }) == ErrorCode::InvalidArgs);
    CHECK(files.load_identity() == second);

    // load() passes over the identity silently; a stale identity.tmp is
    // deleted and reported like a bond's, and store_identity replaces one too.
    files.store(bond_for(kPublicPeer, 1));
    auto loaded = files.load();
    CHECK(loaded.bonds == std::vector<sm::Bond>{bond_for(kPublicPeer, 1)});
    CHECK(loaded.problems.empty());
    write_text(path + ".tmp", "ubluetoothd ident", 0644);
    auto problems = problems_of(files.load(), files);
    CHECK(problems.size() == 1);
    CHECK_THAT(problems["identity.tmp"], Contains("interrupted write; deleted"));
    CHECK(files_in(files.directory()) == std::vector<std::string>{"identity", "public-00AA01010042.bond"});
    write_text(path + ".tmp", "ubluetoothd ident", 0644);
    files.store_identity(first);
    CHECK(files_in(files.directory()) == std::vector<std::string>{"identity", "public-00AA01010042.bond"});
    CHECK(files.load_identity() == first);
}

TEST_CASE("an identity file that cannot be used throws with the path and the reason, and is left in place", "[bond]") {
    // InvalidArgs: its content is bad (the caller replaces it). A file that
    // is not ours to read (mode, owner, link) is Failed: left alone.
    TempDir tmp;
    BondFiles files(tmp.path(), kAdapter);
    const std::string path = files.directory() + "/identity";
    const sm::LocalIdentity identity{*Address::parse("C0:AA:01:00:00:01"), sm::IrkValue{1, 2, 3}};
    const std::string good = sm::encode(identity);
    auto reason = [&](ErrorCode expected = ErrorCode::InvalidArgs) {
        try {
            files.load_identity();
        } catch (const BleError& e) {
            CHECK(e.code() == expected);
            return std::string(e.what());
        }
        FAIL("the identity was accepted");
        return std::string();
    };

    std::string corrupt = good;
    corrupt[30] ^= 0x01;
    write_text(path, corrupt);
    CHECK_THAT(reason(), Contains(path + ": ") && Contains("crc32") && Contains("corrupted"));
    write_text(path, good.substr(0, good.size() - 3));
    CHECK_THAT(reason(), Contains("truncated"));
    write_text(path, "");
    CHECK_THAT(reason(), Contains("empty"));
    write_text(path, sm::encode(bond_for(kPublicPeer, 1)));
    CHECK_THAT(reason(), Contains("not a ubluetoothd identity file"));
    write_text(path, std::string(sm::kMaxIdentityFileSize + 10, 'x'));
    CHECK_THAT(reason(), Contains("more than 1024"));
    write_text(path, good, 0640);
    CHECK_THAT(reason(ErrorCode::Failed), Contains("mode 0640"));
    CHECK(read_text(path) == good);  // left for someone to look at
    CHECK(mode_of(path) == 0640);
    // load() does not report it: the adapter does, when it reads it.
    CHECK(files.load().problems.empty());

    fs::remove(path);
    files.store(bond_for(kPublicPeer, 1));
    REQUIRE(::symlink("public-00AA01010042.bond", path.c_str()) == 0);
    CHECK_THAT(reason(ErrorCode::Failed), Contains("symbolic link"));
    fs::remove(path);
    REQUIRE(::mkdir(path.c_str(), 0700) == 0);
    CHECK_THAT(reason(ErrorCode::Failed), Contains("not a regular file"));
    fs::remove(path);
    if (::geteuid() == 0) {
        write_text(path, good);
        REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
        CHECK_THAT(reason(ErrorCode::Failed), Contains("owned by uid 65534"));
    }

    // Storing replaces a bad file (not a directory) with a good one.
    files.store_identity(identity);
    CHECK(mode_of(path) == 0600);
    CHECK(files.load_identity() == identity);
}

namespace {

struct Report {
    uint32_t kind;  // 0: a bond of its own, 1: a new version of the shared one, 2: ready
    uint32_t value;
};

const LeAddress kSharedPeer{0, *Address::parse("00:AA:01:01:00:99")};

LeAddress unique_peer(uint32_t iteration, uint32_t j) {
    return {1, Address{{0xC1, static_cast<uint8_t>(iteration), static_cast<uint8_t>(j >> 8),
                        static_cast<uint8_t>(j), 0x00, 0x01}}};
}

// The child: stores bonds until it is killed, reporting each one after
// store() returned. Never returns.
[[noreturn]] void store_until_killed(const std::string& root, uint32_t iteration, int report_fd) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    try {
        BondFiles files(root, kAdapter);
        Report ready{2, 0};
        if (::write(report_fd, &ready, sizeof ready) != sizeof ready) ::_exit(3);
        for (uint32_t j = 0; j < 1000; ++j) {
            files.store(bond_for(unique_peer(iteration, j), iteration * 1000 + j));
            Report mine{0, j};
            if (::write(report_fd, &mine, sizeof mine) != sizeof mine) ::_exit(3);
            uint32_t version = iteration * 1000 + j;
            files.store(bond_for(kSharedPeer, version));
            Report shared{1, version};
            if (::write(report_fd, &shared, sizeof shared) != sizeof shared) ::_exit(3);
        }
    } catch (...) {
        ::_exit(2);
    }
    ::_exit(0);
}

// A child process running store_until_killed(), ready to store when the
// constructor returns. Killed and reaped at the latest by the destructor, so
// a failed check never leaves it writing.
class StoringChild {
public:
    StoringChild(const std::string& root, uint32_t iteration) {
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::close(fds[0]);
            store_until_killed(root, iteration, fds[1]);
        }
        ::close(fds[1]);
        reports_ = fds[0];
        Report ready{};
        if (::read(reports_, &ready, sizeof ready) != sizeof ready || ready.kind != 2) {
            stop();  // a throwing constructor gets no destructor call
            FAIL("the storing child did not start");
        }
    }
    StoringChild(const StoringChild&) = delete;
    StoringChild& operator=(const StoringChild&) = delete;
    ~StoringChild() { stop(); }

    // SIGKILL now; the reports the child wrote before it died.
    std::vector<Report> kill_and_collect() {
        ::kill(pid_, SIGKILL);
        int status = 0;
        REQUIRE(::waitpid(pid_, &status, 0) == pid_);
        pid_ = -1;
        CAPTURE(status);
        REQUIRE((WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)));
        std::vector<Report> reports;
        Report r{};
        while (::read(reports_, &r, sizeof r) == sizeof r) reports.push_back(r);  // atomic pipe writes
        return reports;
    }

private:
    void stop() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
        if (reports_ >= 0) ::close(reports_);
        reports_ = -1;
    }

    pid_t pid_ = -1;
    int reports_ = -1;
};

}  // namespace

TEST_CASE("kill -9 during stores: the files are never corrupt and every reported bond is there", "[bond]") {
    TempDir tmp;
    std::mt19937 rng(std::random_device{}());
    // Kill moments spread over about two stores, however fast this disk fsyncs.
    std::chrono::microseconds store_time{0};
    {
        TempDir scratch;
        BondFiles files(scratch.path(), kAdapter);
        auto start = std::chrono::steady_clock::now();
        for (uint32_t i = 0; i < 4; ++i) files.store(bond_for(kPublicPeer, i));
        store_time = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start) / 4;
    }
    std::uniform_int_distribution<int64_t> delay_us(0, std::min<int64_t>(3 * store_time.count() + 200, 50000));
    std::vector<std::pair<uint32_t, uint32_t>> reported;  // (iteration, j)
    uint32_t shared_reported = 0;
    bool shared_seen = false;
    int stale_temporaries = 0;

    for (uint32_t iteration = 0; iteration < 100; ++iteration) {
        CAPTURE(iteration);
        StoringChild child(tmp.path(), iteration);
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        for (const Report& r : child.kill_and_collect()) {
            if (r.kind == 0) {
                reported.emplace_back(iteration, r.value);
            } else {
                shared_reported = r.value;
                shared_seen = true;
            }
        }

        BondFiles files(tmp.path(), kAdapter);
        auto loaded = files.load();
        for (const auto& p : loaded.problems) {
            CAPTURE(p.path, p.reason);
            CHECK_THAT(p.reason, Contains("temporary file of an interrupted write; deleted"));
            ++stale_temporaries;
        }
        std::map<std::string, sm::Bond> by_peer;
        for (const auto& b : loaded.bonds) by_peer[BondFiles::file_name(b.peer)] = b;
        for (const auto& [it, j] : reported) {
            auto found = by_peer.find(BondFiles::file_name(unique_peer(it, j)));
            CAPTURE(it, j);
            REQUIRE(found != by_peer.end());
            CHECK(found->second == bond_for(unique_peer(it, j), it * 1000 + j));
        }
        // Every bond on disk is exactly one the child wrote (perhaps not yet reported).
        for (const auto& [name, b] : by_peer) {
            CAPTURE(name);
            CHECK(b == bond_for(b.peer, seed_of(b)));
        }
        auto shared = by_peer.find(BondFiles::file_name(kSharedPeer));
        if (shared_seen) {
            REQUIRE(shared != by_peer.end());
            CHECK(seed_of(shared->second) >= shared_reported);
        }
        for (const auto& name : files_in(files.directory())) CHECK_FALSE(name.ends_with(".tmp"));
    }
    INFO("stores reported: " << reported.size() << ", stale temporaries found: " << stale_temporaries);
    CHECK(reported.size() > 0);
}
