#include "policy/atomic_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bulkhead::policy {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "bulkhead-atomic-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::vector<std::string> Entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
};

TEST_F(AtomicFileTest, WritesAndReplaces) {
  const fs::path target = dir_ / "graph.yaml";
  ASSERT_TRUE(WriteFileAtomically(target.string(), "first\n"));
  EXPECT_EQ(Slurp(target), "first\n");
  ASSERT_TRUE(WriteFileAtomically(target.string(), "second"));
  EXPECT_EQ(Slurp(target), "second");
  EXPECT_EQ(Entries(), (std::vector<std::string>{"graph.yaml"}));
  auto read = ReadWholeFile(target.string());
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(*read, "second");
  // The usual permissions (umask applied), not mkstemp's 0600.
  const auto perms = fs::status(target).permissions();
  EXPECT_NE(perms & fs::perms::owner_read, fs::perms::none);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if ((mask & 0044) == 0) {
    EXPECT_NE(perms & fs::perms::group_read, fs::perms::none);
  }
}

TEST_F(AtomicFileTest, MissingDirectoryIsOneErrorAndCreatesNothing) {
  const fs::path target = dir_ / "missing" / "dir" / "out.yaml";
  auto result = WriteFileAtomically(target.string(), "x");
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().find(target.string()), std::string::npos) << result.error();
  EXPECT_EQ(result.error().find('\n'), std::string::npos);
  EXPECT_TRUE(Entries().empty());
}

TEST_F(AtomicFileTest, FailedWriteKeepsTheOldFileAndLeavesNoTemp) {
  const fs::path target = dir_ / "graph.yaml";
  ASSERT_TRUE(WriteFileAtomically(target.string(), "old content\n"));
  // Make write(2) fail part way (EFBIG) with a file-size limit: works as root too, unlike a
  // read-only directory.
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct sigaction ignore {};
  struct sigaction old_action {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old_action), 0);
  struct rlimit small = saved;
  small.rlim_cur = 4;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto result = WriteFileAtomically(target.string(), std::string(100000, 'n'));
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::sigaction(SIGXFSZ, &old_action, nullptr);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().find("cannot write"), std::string::npos) << result.error();
  EXPECT_EQ(Slurp(target), "old content\n");
  EXPECT_EQ(Entries(), (std::vector<std::string>{"graph.yaml"}));
}

TEST_F(AtomicFileTest, TargetThatIsADirectoryFailsCleanly) {
  const fs::path target = dir_ / "sub";
  fs::create_directory(target);
  fs::path inner = target / "keep";
  std::ofstream(inner) << "kept";
  auto result = WriteFileAtomically(target.string(), "x");
  ASSERT_FALSE(result);
  EXPECT_EQ(Entries(), (std::vector<std::string>{"sub"}));
  EXPECT_EQ(Slurp(inner), "kept");
}

TEST_F(AtomicFileTest, NonWritableDirectoryFailsWhenNotRoot) {
  // Root ignores directory permissions; the EFBIG test above covers root. For everyone else
  // this is the common real-world failure.
  const fs::path sub = dir_ / "ro";
  fs::create_directory(sub);
  std::ofstream(sub / "graph.yaml") << "old";
  fs::permissions(sub, fs::perms::owner_read | fs::perms::owner_exec);
  auto result = WriteFileAtomically((sub / "graph.yaml").string(), "new");
  fs::permissions(sub, fs::perms::owner_all);
  if (::geteuid() != 0) {
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().find("temporary file"), std::string::npos) << result.error();
    EXPECT_EQ(Slurp(sub / "graph.yaml"), "old");
  } else {
    ASSERT_TRUE(result) << result.error();
    EXPECT_EQ(Slurp(sub / "graph.yaml"), "new");
  }
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(sub)) {
    ++entries;
  }
  EXPECT_EQ(entries, 1U);
}

TEST_F(AtomicFileTest, DashIsStandardOutput) {
  testing::internal::CaptureStdout();
  auto result = WriteFileAtomically("-", "to stdout\n");
  const std::string out = testing::internal::GetCapturedStdout();
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(out, "to stdout\n");
  EXPECT_FALSE(fs::exists("-"));
}

TEST_F(AtomicFileTest, ReadDashIsStandardInput) {
  const fs::path input = dir_ / "in.txt";
  std::ofstream(input) << "from stdin";
  const int saved = ::dup(STDIN_FILENO);
  ASSERT_GE(saved, 0);
  FILE* f = std::fopen(input.c_str(), "r");
  ASSERT_NE(f, nullptr);
  ASSERT_GE(::dup2(::fileno(f), STDIN_FILENO), 0);
  auto result = ReadWholeFile("-");
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  std::fclose(f);
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(*result, "from stdin");
}

TEST_F(AtomicFileTest, ReadErrorsNameThePath) {
  auto missing = ReadWholeFile((dir_ / "nope.yaml").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("nope.yaml"), std::string::npos);
  EXPECT_NE(missing.error().find("No such file"), std::string::npos) << missing.error();
  auto directory = ReadWholeFile(dir_.string());
  ASSERT_FALSE(directory);
  EXPECT_NE(directory.error().find("is a directory"), std::string::npos) << directory.error();
}

// Sets `p`'s modification time `age` in the past.
void Age(const fs::path& p, std::chrono::seconds age) {
  fs::last_write_time(p, fs::file_time_type::clock::now() - age);
}

// A pid that was just in use and is now dead (a reaped child).
pid_t DeadPid() {
  const pid_t child = ::fork();
  if (child == 0) {
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

// A crash between creating the temporary file and renaming it leaves the temporary behind
// (issue 18: 13 after 200 kill loops). The next save removes exactly the leftovers of the same
// target: a dead writer's, and any not modified for a while; not a live writer's fresh one,
// not another target's, not names that merely look alike.
TEST_F(AtomicFileTest, SaveRemovesStaleTempsOfTheSameTarget) {
  const std::string dead = ".graph.yaml.tmp-" + std::to_string(DeadPid()) + "-12345";
  const std::string old_live = ".graph.yaml.tmp-" + std::to_string(::getpid()) + "-1";
  const std::string fresh_live = ".graph.yaml.tmp-" + std::to_string(::getpid()) + "-2";
  const std::string old_format = ".graph.yaml.tmp-987654";  // before the pid was in the name
  const std::vector<std::string> not_ours = {".graph.yaml.tmp-",        ".graph.yaml.tmp-12x-3",
                                             ".graph.yaml.tmp-1-2.bak", ".other.yaml.tmp-1-2",
                                             "graph.yaml.tmp-1-2",      ".graph.yaml.tmp-1-",
                                             ".graph.yaml.tmp--1",      ".graph.yaml.tmp-abc"};
  for (const std::string& name : {dead, old_live, fresh_live, old_format}) {
    std::ofstream(dir_ / name) << "partial";
  }
  for (const std::string& name : not_ours) {
    std::ofstream(dir_ / name) << "keep";
    Age(dir_ / name, std::chrono::seconds(3600));
  }
  Age(dir_ / dead, std::chrono::seconds(2));
  Age(dir_ / old_live, std::chrono::seconds(60));
  Age(dir_ / old_format, std::chrono::seconds(60));
  fs::create_directory(dir_ / ".graph.yaml.tmp-5-6");  // a directory is never removed
  Age(dir_ / ".graph.yaml.tmp-5-6", std::chrono::seconds(3600));

  ASSERT_TRUE(WriteFileAtomically((dir_ / "graph.yaml").string(), "new"));

  std::vector<std::string> expected = not_ours;
  expected.push_back(fresh_live);
  expected.push_back(".graph.yaml.tmp-5-6");
  expected.push_back("graph.yaml");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(Entries(), expected);
  EXPECT_EQ(Slurp(dir_ / "graph.yaml"), "new");
}

TEST_F(AtomicFileTest, CheckWritableBeforeWork) {
  EXPECT_TRUE(CheckWritable((dir_ / "graph.yaml").string()));
  EXPECT_TRUE(CheckWritable("-"));
  EXPECT_TRUE(CheckWritable("/dev/null"));
  EXPECT_TRUE(Entries().empty());  // the probe leaves nothing behind

  auto missing = CheckWritable((dir_ / "no-such-dir" / "graph.yaml").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("no-such-dir"), std::string::npos) << missing.error();
  EXPECT_NE(missing.error().find("No such file"), std::string::npos) << missing.error();

  std::ofstream(dir_ / "plain") << "x";
  auto not_dir = CheckWritable((dir_ / "plain" / "graph.yaml").string());
  ASSERT_FALSE(not_dir);
  EXPECT_NE(not_dir.error().find("Not a directory"), std::string::npos) << not_dir.error();

  auto is_dir = CheckWritable(dir_.string());
  ASSERT_FALSE(is_dir);
  EXPECT_NE(is_dir.error().find("is a directory"), std::string::npos) << is_dir.error();

  // A directory only root may write: root passes (as the save itself would), others fail.
  const fs::path sub = dir_ / "ro";
  fs::create_directory(sub);
  fs::permissions(sub, fs::perms::owner_read | fs::perms::owner_exec);
  const auto result = CheckWritable((sub / "graph.yaml").string());
  const auto write = WriteFileAtomically((sub / "graph.yaml").string(), "x");
  fs::permissions(sub, fs::perms::owner_all);
  EXPECT_EQ(result.has_value(), write.has_value());
}

}  // namespace
}  // namespace bulkhead::policy
