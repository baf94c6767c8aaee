#include "daemon/policy_watch.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <boost/asio/io_context.hpp>

// The policy watch against a real directory and real inotify: each way a policy file changes
// (kubelet's ..data swap, a write in place, temp+rename, delete and recreate) reaches the
// callback once with the new bytes; an event that leaves the bytes as they were reaches nothing.
namespace bulkhead::daemon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kPolicyV1 = "kind: Policy\n# v1\n";
constexpr std::string_view kPolicyV2 = "kind: Policy\n# v2\n";
constexpr std::string_view kPolicyV3 = "kind: Policy\n# v3\n";

void WriteFile(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

class PolicyWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "policy_watch.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    log_ = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_));
    log_->set_level(spdlog::level::debug);
  }
  void TearDown() override {
    if (watch_) {
      watch_->Stop();
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Starts the watch on `path` with `current` as the digest in force. Short delays: the test's
  // changes are single bursts.
  void Watch(const fs::path& path, std::string_view current) {
    PolicyWatchOptions options;
    options.debounce = 50ms;
    options.max_delay = 500ms;
    options.missing_grace = 300ms;
    options.rewatch_interval = 100ms;
    auto watch = PolicyWatch::Start(
        io_, path.string(), PolicyDigest(current), options,
        [this](const PolicyFileContent& content) {
          seen_.push_back(content.bytes);
          digests_.push_back(content.digest);
          last_change_at_ = Clock::now();
        },
        log_);
    ASSERT_TRUE(watch) << watch.error();
    watch_ = std::move(*watch);
  }

  // Runs the event loop until `count` changes arrived or `limit` passed.
  void RunUntilChanges(std::size_t count, std::chrono::milliseconds limit = 3000ms) {
    const auto end = Clock::now() + limit;
    while (seen_.size() < count && Clock::now() < end) {
      io_.run_for(10ms);
    }
  }
  // Runs the event loop for `duration` (to see that nothing more arrives).
  void RunFor(std::chrono::milliseconds duration) {
    const auto end = Clock::now() + duration;
    while (Clock::now() < end) {
      io_.run_for(10ms);
    }
  }

  // Lays the directory out as kubelet mounts a ConfigMap: policy.yaml -> ..data/policy.yaml,
  // ..data -> ..<timestamp>/.
  void KubeletProject(std::string_view text, std::string_view stamp) {
    const fs::path version = dir_ / ("..2026_12_07_23_00_" + std::string(stamp));
    fs::create_directory(version);
    WriteFile(version / "policy.yaml", text);
    fs::create_symlink(version.filename(), dir_ / "..data");
    fs::create_symlink("..data/policy.yaml", dir_ / "policy.yaml");
  }
  // kubelet's AtomicWriter: a new timestamped directory, a ..data_tmp symlink to it renamed
  // over ..data, then the old directory removed.
  void KubeletSwap(std::string_view text, std::string_view old_stamp, std::string_view stamp) {
    const fs::path version = dir_ / ("..2026_12_07_23_00_" + std::string(stamp));
    fs::create_directory(version);
    WriteFile(version / "policy.yaml", text);
    fs::create_symlink(version.filename(), dir_ / "..data_tmp");
    fs::rename(dir_ / "..data_tmp", dir_ / "..data");
    fs::remove_all(dir_ / ("..2026_12_07_23_00_" + std::string(old_stamp)));
  }

  fs::path dir_;
  boost::asio::io_context io_;
  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<PolicyWatch> watch_;
  std::vector<std::string> seen_;
  std::vector<std::string> digests_;
  Clock::time_point last_change_at_{};
};

// The digest is sha256sum's, so an operator can compare `status` with `sha256sum policy.yaml`.
TEST(PolicyDigest, IsSha256OfTheBytes) {
  EXPECT_EQ(PolicyDigest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(PolicyDigest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ShortDigest(PolicyDigest("abc")), "sha256:ba7816bf8f01");
}

TEST(ReadPolicyFile, MissingIsToldApartFromUnreadable) {
  auto missing = ReadPolicyFile("/nonexistent/policy.yaml");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/policy.yaml"), std::string::npos);
  auto directory = ReadPolicyFile("/");
  ASSERT_FALSE(directory);
  EXPECT_FALSE(directory.error().missing);
}

TEST_F(PolicyWatchTest, KubeletDataSymlinkSwap) {
  KubeletProject(kPolicyV1, "00.000000001");
  Watch(dir_ / "policy.yaml", kPolicyV1);
  const auto start = Clock::now();
  KubeletSwap(kPolicyV2, "00.000000001", "30.000000002");
  RunUntilChanges(1);
  ASSERT_EQ(seen_.size(), 1U) << log_text_.str();
  EXPECT_EQ(seen_[0], kPolicyV2);
  EXPECT_EQ(digests_[0], PolicyDigest(kPolicyV2));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(last_change_at_ - start);
  std::cout << "kubelet swap to callback: " << ms.count() << " ms\n";
  EXPECT_LT(ms, 1000ms);
  // A second swap is followed the same way; nothing arrives twice.
  KubeletSwap(kPolicyV3, "30.000000002", "59.000000003");
  RunUntilChanges(2);
  RunFor(200ms);
  ASSERT_EQ(seen_.size(), 2U) << log_text_.str();
  EXPECT_EQ(seen_[1], kPolicyV3);
  EXPECT_EQ(log_text_.str().find("[warning]"), std::string::npos) << log_text_.str();
}

TEST_F(PolicyWatchTest, WriteInPlace) {
  WriteFile(dir_ / "policy.yaml", kPolicyV1);
  Watch(dir_ / "policy.yaml", kPolicyV1);
  WriteFile(dir_ / "policy.yaml", kPolicyV2);  // O_TRUNC, write, close: IN_CLOSE_WRITE
  RunUntilChanges(1);
  RunFor(200ms);
  ASSERT_EQ(seen_.size(), 1U) << log_text_.str();
  EXPECT_EQ(seen_[0], kPolicyV2);
}

TEST_F(PolicyWatchTest, TempFileRenamedOver) {
  WriteFile(dir_ / "policy.yaml", kPolicyV1);
  Watch(dir_ / "policy.yaml", kPolicyV1);
  WriteFile(dir_ / ".policy.yaml.tmp", kPolicyV2);
  fs::rename(dir_ / ".policy.yaml.tmp", dir_ / "policy.yaml");
  RunUntilChanges(1);
  RunFor(200ms);
  ASSERT_EQ(seen_.size(), 1U) << log_text_.str();
  EXPECT_EQ(seen_[0], kPolicyV2);
}

// Gone for a moment between the unlink and the new file: not logged; the new bytes arrive.
TEST_F(PolicyWatchTest, DeletedAndRecreated) {
  WriteFile(dir_ / "policy.yaml", kPolicyV1);
  Watch(dir_ / "policy.yaml", kPolicyV1);
  fs::remove(dir_ / "policy.yaml");
  RunFor(100ms);  // past the debounce: the watch reads a missing file
  WriteFile(dir_ / "policy.yaml", kPolicyV2);
  RunUntilChanges(1);
  RunFor(400ms);
  ASSERT_EQ(seen_.size(), 1U) << log_text_.str();
  EXPECT_EQ(seen_[0], kPolicyV2);
  EXPECT_EQ(log_text_.str().find("[warning]"), std::string::npos) << log_text_.str();
}

// Missing past the grace period: one warning, however many events; then back.
TEST_F(PolicyWatchTest, MissingFileLoggedOnce) {
  WriteFile(dir_ / "policy.yaml", kPolicyV1);
  Watch(dir_ / "policy.yaml", kPolicyV1);
  fs::remove(dir_ / "policy.yaml");
  RunFor(500ms);
  WriteFile(dir_ / "other", "x");  // more events in the directory while the file is missing
  RunFor(500ms);
  const std::string text = log_text_.str();
  std::size_t warnings = 0;
  for (auto at = text.find("[warning]"); at != std::string::npos;
       at = text.find("[warning]", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1U) << text;
  EXPECT_NE(text.find("policy.yaml: No such file or directory"), std::string::npos) << text;
  EXPECT_TRUE(seen_.empty());
  WriteFile(dir_ / "policy.yaml", kPolicyV1);  // back as it was: nothing changed
  RunFor(300ms);
  EXPECT_TRUE(seen_.empty());
  EXPECT_NE(log_text_.str().find("is back"), std::string::npos) << log_text_.str();
}

// The same bytes rewritten, the mode changed, another file written: read, compared, ignored.
TEST_F(PolicyWatchTest, UnchangedDigestIgnored) {
  KubeletProject(kPolicyV1, "00.000000001");
  Watch(dir_ / "policy.yaml", kPolicyV1);
  KubeletSwap(kPolicyV1, "00.000000001", "30.000000002");  // a new directory, the same bytes
  RunFor(300ms);
  const std::uint64_t checks_after_swap = watch_->stats().checks;
  WriteFile(dir_ / "unrelated.txt", "x");
  ::chmod((dir_ / "..data/policy.yaml").c_str(), 0600);
  RunFor(300ms);
  EXPECT_TRUE(seen_.empty()) << log_text_.str();
  EXPECT_GE(checks_after_swap, 1U);
  EXPECT_GT(watch_->stats().checks, checks_after_swap);
  EXPECT_EQ(watch_->stats().changes, 0U);
}

// A directory that goes away and comes back is watched again.
TEST_F(PolicyWatchTest, DirectoryRecreated) {
  const fs::path sub = dir_ / "conf";
  fs::create_directory(sub);
  WriteFile(sub / "policy.yaml", kPolicyV1);
  Watch(sub / "policy.yaml", kPolicyV1);
  fs::remove_all(sub);
  RunFor(200ms);
  fs::create_directory(sub);
  WriteFile(sub / "policy.yaml", kPolicyV2);
  RunUntilChanges(1);
  ASSERT_EQ(seen_.size(), 1U) << log_text_.str();
  EXPECT_EQ(seen_[0], kPolicyV2);
}

// A symlink into another directory: an edit of the target is followed, and so is a new link.
TEST_F(PolicyWatchTest, SymlinkTargetElsewhere) {
  const fs::path conf = dir_ / "conf";
  const fs::path store = dir_ / "store";
  fs::create_directory(conf);
  fs::create_directory(store);
  WriteFile(store / "v1.yaml", kPolicyV1);
  fs::create_symlink(store / "v1.yaml", conf / "policy.yaml");
  Watch(conf / "policy.yaml", kPolicyV1);
  RunFor(100ms);
  WriteFile(store / "v1.yaml", kPolicyV2);  // the target edited in place
  RunUntilChanges(1);
  ASSERT_EQ(seen_.size(), 1U) << log_text_.str();
  EXPECT_EQ(seen_[0], kPolicyV2);
  WriteFile(store / "v3.yaml", kPolicyV3);  // a new link, made aside and renamed over
  fs::create_symlink(store / "v3.yaml", conf / ".policy.yaml.new");
  fs::rename(conf / ".policy.yaml.new", conf / "policy.yaml");
  RunUntilChanges(2);
  ASSERT_EQ(seen_.size(), 2U) << log_text_.str();
  EXPECT_EQ(seen_[1], kPolicyV3);
  WriteFile(store / "v3.yaml", kPolicyV1);  // the new target is followed now
  RunUntilChanges(3);
  ASSERT_EQ(seen_.size(), 3U) << log_text_.str();
  EXPECT_EQ(seen_[2], kPolicyV1);
}

// Stop: no callback afterwards.
TEST_F(PolicyWatchTest, NothingAfterStop) {
  WriteFile(dir_ / "policy.yaml", kPolicyV1);
  Watch(dir_ / "policy.yaml", kPolicyV1);
  watch_->Stop();
  WriteFile(dir_ / "policy.yaml", kPolicyV2);
  RunFor(200ms);
  EXPECT_TRUE(seen_.empty());
}

}  // namespace
}  // namespace bulkhead::daemon
