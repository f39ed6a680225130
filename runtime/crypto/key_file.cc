// Secret key files of a site: the checks on reading, the private write.
#include "runtime/crypto/key_file.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/crypto/openssl_check.h"
#include "runtime/crypto/secret_bytes.h"

namespace fedtrain {
namespace {

// An X25519 or Ed25519 key in PKCS#8 PEM is 119 bytes; a file far longer than that is not a key file.
constexpr size_t kMaxKeyFileBytes = 16 * 1024;

// A file descriptor, closed when it ends.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and says whether that worked (a write error may show only here).
  bool close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "of an unknown type";
}

// The key file in the checks' own words: what is wrong with `st`, or "" when it may hold a secret key.
std::string key_file_problem(const struct stat& st, const std::string& path, const SecretKeyFile& file) {
  if (!S_ISREG(st.st_mode))
    return "is " + kind_of(st.st_mode) + ", not a regular file; point " + file.key + " at the file 'fedtrain keygen' wrote";
  const uid_t me = geteuid();
  if (st.st_uid != me && st.st_uid != 0)
    return "is owned by uid " + std::to_string(st.st_uid) + ", neither the user running fedtrain (uid " +
           std::to_string(me) + ") nor root: its owner can read or replace the key; chown " + std::to_string(me) +
           " '" + path + "'";
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return std::string("has mode ") + mode +
           ", readable by group or others; a secret key must be private: chmod 600 '" + path + "'";
  }
  if (static_cast<uintmax_t>(st.st_size) > kMaxKeyFileBytes)
    return "is " + std::to_string(st.st_size) + " bytes, far too long for a key file; create one with 'fedtrain keygen'";
  return "";
}

// Never asks for a passphrase: a leader has no terminal, and fedtrain's keys have none.
int no_passphrase(char*, int, int, void*) { return 0; }

}  // namespace

EVP_PKEY* read_secret_key_file(const std::string& path, const std::string& site, const SecretKeyFile& file) {
  const std::string where = "site '" + site + "': " + (file.key == "secret_key" ? "secret key" : "signing secret key") +
                            " file '" + path + "'";
  // Open first, then check the file that was opened (fstat): checking the path and opening it
  // afterwards would let the path change in between. open() follows symlinks (a Kubernetes Secret
  // volume is NAME.key -> ..data/NAME.key, ..data -> a timestamped directory), so the checks apply to
  // the file at the end of them. O_NONBLOCK: opening a FIFO must not wait for a writer.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0)
    throw ConfigError(where + " cannot be read: " + std::strerror(errno) + "; create it with 'fedtrain keygen --site " +
                      site + " --out DIR'");
  struct stat st;
  if (fstat(fd.get(), &st) != 0) throw ConfigError(where + " cannot be examined: " + std::strerror(errno));
  const std::string problem = key_file_problem(st, path, file);
  if (!problem.empty()) throw ConfigError(where + " " + problem);

  // read(2) straight into memory that is wiped afterwards (stdio would keep a copy in its buffer).
  SecretBuffer<char> pem(kMaxKeyFileBytes + 1);
  size_t bytes = 0;
  while (bytes < pem.size()) {
    const ssize_t n = ::read(fd.get(), pem.data() + bytes, pem.size() - bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ConfigError(where + " cannot be read: " + std::strerror(errno));
    if (n == 0) break;
    bytes += static_cast<size_t>(n);
  }
  if (bytes > kMaxKeyFileBytes) throw ConfigError(where + " is far too long for a key file; create one with 'fedtrain keygen'");
  std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(bytes)), BIO_free);
  if (!bio) detail::openssl_failed("BIO_new_mem_buf", __FILE__, __LINE__);
  EVP_PKEY* p = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  if (p == nullptr || EVP_PKEY_get_base_id(p) != file.evp_type) {
    EVP_PKEY_free(p);
    ERR_clear_error();
    throw ConfigError(where + " does not hold an " + file.kind + " private key (PEM); create one with 'fedtrain keygen'");
  }
  return p;
}

void write_secret_key_file(const std::string& path, EVP_PKEY* key) {
  // The PEM text lives in secure memory (BIO_s_secmem: wiped when freed) and goes out with write(2):
  // a stdio buffer would leave a copy of the key in freed memory.
  std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new(BIO_s_secmem()), BIO_free);
  if (!bio) detail::openssl_failed("BIO_new(BIO_s_secmem)", __FILE__, __LINE__);
  OSSL_CHECK(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr));
  char* text = nullptr;
  const long text_bytes = BIO_get_mem_data(bio.get(), &text);
  FT_CHECK(text_bytes > 0 && text != nullptr);

  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) throw Error("cannot create secret key file '" + path + "': " + std::strerror(errno));
  size_t done = 0;
  bool ok = true;
  while (ok && done < static_cast<size_t>(text_bytes)) {
    const ssize_t n = ::write(fd.get(), text + done, static_cast<size_t>(text_bytes) - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && fsync(fd.get()) == 0;
  ok = fd.close() && ok;
  if (!ok) {
    const std::string why = std::strerror(errno);
    ::unlink(path.c_str());
    throw Error("cannot write secret key file '" + path + "': " + why);
  }
}

bool raw_from_base64(const std::string& text, uint8_t* out, size_t bytes) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  while (!t.empty() && t.front() == ' ') t.erase(t.begin());
  const size_t chars = 4 * ((bytes + 2) / 3), pad = (3 - bytes % 3) % 3;
  if (t.size() != chars) return false;
  for (size_t i = 0; i < chars; ++i) {
    const bool padding = i >= chars - pad;
    if ((t[i] == '=') != padding) return false;  // '=' exactly where the padding goes
  }
  std::vector<unsigned char> buf(chars);
  const int n = EVP_DecodeBlock(buf.data(), reinterpret_cast<const unsigned char*>(t.data()), static_cast<int>(chars));
  // DecodeBlock counts the padding as bytes: 3 per 4 characters.
  if (n != static_cast<int>(chars / 4 * 3)) return false;
  std::memcpy(out, buf.data(), bytes);
  return true;
}

}  // namespace fedtrain
