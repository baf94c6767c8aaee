// Kubernetes connection settings: the in-cluster service account (a directory of the test's own
// standing in for /var/run/secrets/kubernetes.io/serviceaccount) and kubeconfig files, with
// their errors at file:line:column.
#include "inventory/kube_config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace bulkhead::inventory {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

class KubeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bulkhead-kubeconfig-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, std::string_view text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  std::string Errors(std::string_view text) {
    auto config = ParseKubeconfig(text, "kc.yaml", dir_.string());
    return config ? std::string("accepted") : config.error().ToString();
  }

  fs::path dir_;
};

TEST_F(KubeConfigTest, InCluster) {
  Write("token", "eyJhbGciOi.token\n");
  Write("ca.crt", kPem);
  auto config = InClusterKubeConfig("10.96.0.1", "443", dir_.string());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->host, "10.96.0.1");
  EXPECT_EQ(config->port, "443");
  EXPECT_EQ(config->token_file, (dir_ / "token").string());
  EXPECT_EQ(config->ca_pem, kPem);
  EXPECT_EQ(config->ServerUrl(), "https://10.96.0.1:443");

  auto v6 = InClusterKubeConfig("fd00:10:96::1", "6443", dir_.string());
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->host, "fd00:10:96::1");
  EXPECT_EQ(v6->ServerUrl(), "https://[fd00:10:96::1]:6443");
}

TEST_F(KubeConfigTest, InClusterErrors) {
  auto outside = InClusterKubeConfig(nullptr, nullptr, dir_.string());
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);

  auto no_token = InClusterKubeConfig("10.96.0.1", "443", dir_.string());
  ASSERT_FALSE(no_token);
  EXPECT_NE(no_token.error().message.find("the service account token: "), std::string::npos);
  EXPECT_NE(no_token.error().message.find((dir_ / "token").string()), std::string::npos);

  Write("token", "t");
  auto no_ca = InClusterKubeConfig("10.96.0.1", "443", dir_.string());
  ASSERT_FALSE(no_ca);
  EXPECT_NE(no_ca.error().message.find("the cluster's CA: "), std::string::npos);

  Write("ca.crt", kPem);
  auto bad_port = InClusterKubeConfig("10.96.0.1", "https", dir_.string());
  ASSERT_FALSE(bad_port);
  EXPECT_NE(bad_port.error().message.find("port is not a number"), std::string::npos);
}

TEST_F(KubeConfigTest, KubeconfigWithFilesRelativeToItsDirectory) {
  fs::create_directories(dir_ / "pki");
  Write("pki/ca.crt", kPem);
  Write("token", "file-token\n");
  const std::string path = Write("config", R"(apiVersion: v1
kind: Config
preferences: {}
current-context: dev
clusters:
- name: other
  cluster: {server: "https://other:6443", insecure-skip-tls-verify: true}
- name: kind
  cluster:
    server: https://[::1]:36443/prefix/
    certificate-authority: pki/ca.crt
    extensions: [{name: client.authentication.k8s.io/exec, extension: {}}]
contexts:
- name: dev
  context: {cluster: kind, user: bot, namespace: shop}
users:
- name: bot
  user:
    tokenFile: token
)");
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->host, "::1");
  EXPECT_EQ(config->port, "36443");
  EXPECT_EQ(config->base_path, "/prefix");
  EXPECT_EQ(config->ca_pem, kPem);
  EXPECT_EQ(config->token_file, (dir_ / "token").string());
  EXPECT_EQ(config->origin, path);
}

TEST_F(KubeConfigTest, InlineDataAndToken) {
  // "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" in base64, wrapped.
  auto config = ParseKubeconfig(R"(current-context: c
clusters:
- name: k
  cluster:
    server: https://api.example.test
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VS
      VElGSUNBVEUtLS0tLQo=
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {token: abc.def}}]
)",
                                "kc.yaml", dir_.string());
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->host, "api.example.test");
  EXPECT_EQ(config->port, "443");
  EXPECT_EQ(config->ca_pem, kPem);
  EXPECT_EQ(config->token, "abc.def");
  EXPECT_TRUE(config->token_file.empty());
}

TEST_F(KubeConfigTest, ErrorsAtLineAndColumn) {
  const std::string head =
      "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
      "users: [{name: u, user: {token: t}}]\n";
  EXPECT_EQ(Errors(head + R"(clusters:
- name: k
  cluster:
    server: https://a:6443
    certificate-authority-data: Zm9v
    insecure-skip-tls-verify: true
)"),
            "kc.yaml:9:31: insecure-skip-tls-verify: true is refused: bulkhead always verifies "
            "the API server against the cluster's CA (give certificate-authority or "
            "certificate-authority-data)");
  EXPECT_EQ(Errors(head + "clusters: [{name: k, cluster: {server: 'http://a', "
                          "certificate-authority-data: Zm9v}}]\n"),
            "kc.yaml:4:40: server: the server must be an https:// URL (bulkhead always verifies "
            "TLS)");
  EXPECT_EQ(Errors(head + "clusters: [{name: k, cluster: {server: 'https://a'}}]\n"),
            "kc.yaml:4:31: the cluster has no certificate-authority or "
            "certificate-authority-data: bulkhead verifies the API server against the cluster's "
            "CA");
  EXPECT_EQ(Errors(head + "clusters: [{name: k, cluster: {server: 'https://a', "
                          "certificate-authority-data: 'Zm9v!'}}]\n"),
            "kc.yaml:4:81: certificate-authority-data: not base64: its length is not a multiple "
            "of 4");
  EXPECT_EQ(Errors(head + "clusters: [{name: k, cluster: {server: 'https://a', "
                          "certificate-authority: missing.crt}}]\n")
                .find("kc.yaml:4:76: certificate-authority: " + (dir_ / "missing.crt").string() +
                      ": cannot open"),
            0U);
  EXPECT_EQ(Errors(head + "clusters: [{name: x, cluster: {server: 'https://a'}}]\n"),
            "kc.yaml:2:41: no entry named \"k\" in clusters");
  EXPECT_EQ(Errors("current-context: c\ncontexts: []\n"),
            "kc.yaml:1:18: no entry named \"c\" in contexts");
  EXPECT_EQ(Errors("clusters: []\n"), "kc.yaml:1:1: current-context: missing");
  EXPECT_EQ(Errors("current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
                   "clusters: [{name: k, cluster: {server: 'https://[::1', "
                   "certificate-authority-data: Zm9v}}]\n"
                   "users: [{name: u, user: {exec: {command: aws}}}]\n"),
            "kc.yaml:3:40: server: the server URL's IPv6 address has no closing ']'\n"
            "kc.yaml:4:32: exec: credential plugins are not supported; give token, tokenFile or "
            "client-certificate and client-key");
  EXPECT_EQ(
      Errors("current-context: [\n"),
      "kc.yaml:2:1: did not find expected node content (while parsing a flow node at line 2)");
}

TEST(KubeBase64, StrictDecoding) {
  EXPECT_EQ(*DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(*DecodeBase64("aGVs\n bG8h"), "hello!");
  EXPECT_EQ(*DecodeBase64("aGk="), "hi");
  EXPECT_EQ(*DecodeBase64("aA=="), "h");
  EXPECT_FALSE(DecodeBase64("aGk"));
  EXPECT_FALSE(DecodeBase64("a=Gk"));
  EXPECT_FALSE(DecodeBase64("aGk=aGk="));
  EXPECT_FALSE(DecodeBase64("aG-k"));
}

}  // namespace
}  // namespace bulkhead::inventory
