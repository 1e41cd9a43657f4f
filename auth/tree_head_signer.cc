#include "auth/tree_head_signer.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/key_files.h"

namespace hub::auth {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

void PutBigEndian(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

bool IsP256(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {0};
  size_t length = 0;
  return EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &length) == 1 &&
         std::string(group, length) == "prime256v1";
}

absl::StatusOr<std::string> PublicKeyPem(EVP_PKEY* key) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return absl::InternalError("cannot encode the audit public key");
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

}  // namespace

std::string TreeHeadSignedBytes(const TreeHead& head) {
  std::string bytes;
  bytes.push_back(0);  // version v1 (0)
  bytes.push_back(1);  // signature type: tree_hash
  PutBigEndian(static_cast<uint64_t>(head.timestamp_ms), &bytes);
  PutBigEndian(head.tree_size, &bytes);
  bytes.append(reinterpret_cast<const char*>(head.root_hash.data()), head.root_hash.size());
  return bytes;
}

absl::StatusOr<std::unique_ptr<TreeHeadSigner>> TreeHeadSigner::LoadOrCreate(
    const std::string& key_path) {
  EVP_PKEY* raw = nullptr;
  if (std::filesystem::exists(key_path)) {
    Owned<BIO> file(BIO_new_file(key_path.c_str(), "r"));
    raw =
        file == nullptr ? nullptr : PEM_read_bio_PrivateKey(file.get(), nullptr, nullptr, nullptr);
    if (raw == nullptr || !IsP256(raw)) {
      EVP_PKEY_free(raw);
      return absl::FailedPreconditionError(
          absl::StrCat(key_path, " is not an ECDSA P-256 private key (PEM)"));
    }
  } else {
    raw = EVP_EC_gen("P-256");
    if (raw == nullptr) return absl::InternalError("cannot generate the audit key");
    Owned<BIO> pem(BIO_new(BIO_s_mem()));
    if (pem == nullptr ||
        PEM_write_bio_PrivateKey(pem.get(), raw, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
      EVP_PKEY_free(raw);
      return absl::InternalError("cannot encode the audit key");
    }
    char* data = nullptr;
    const long length = BIO_get_mem_data(pem.get(), &data);
    std::error_code ignored;
    std::filesystem::create_directories(std::filesystem::path(key_path).parent_path(), ignored);
    absl::Status saved =
        WriteNewKeyFile(key_path, std::string_view(data, static_cast<size_t>(length)), 0600);
    if (saved.ok()) {
      absl::StatusOr<std::string> public_pem = PublicKeyPem(raw);
      saved = public_pem.ok() ? WriteNewKeyFile(key_path + ".pub", *public_pem, 0644)
                              : public_pem.status();
    }
    if (!saved.ok()) {
      EVP_PKEY_free(raw);
      return saved;
    }
  }
  std::unique_ptr<TreeHeadSigner> signer(new TreeHeadSigner(raw));
  absl::StatusOr<std::string> public_pem = PublicKeyPem(raw);
  if (!public_pem.ok()) return public_pem.status();
  signer->public_key_pem_ = *std::move(public_pem);
  return signer;
}

TreeHeadSigner::~TreeHeadSigner() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }

absl::StatusOr<std::string> TreeHeadSigner::Sign(const TreeHead& head) const {
  return SignMessage(TreeHeadSignedBytes(head));
}

absl::StatusOr<std::string> TreeHeadSigner::SignMessage(std::string_view message) const {
  Owned<EVP_MD_CTX> context(EVP_MD_CTX_new());
  size_t length = 0;
  if (context == nullptr ||
      EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr,
                         static_cast<EVP_PKEY*>(key_)) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("cannot sign with the audit key");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("cannot sign with the audit key");
  }
  signature.resize(length);
  return signature;
}

bool VerifyTreeHead(std::string_view public_key_pem, const TreeHead& head,
                    std::string_view signature) {
  return VerifyMessage(public_key_pem, TreeHeadSignedBytes(head), signature);
}

bool VerifyMessage(std::string_view public_key_pem, std::string_view message,
                   std::string_view signature) {
  Owned<BIO> bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  Owned<EVP_PKEY> key(bio == nullptr ? nullptr
                                     : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return false;
  Owned<EVP_MD_CTX> context(EVP_MD_CTX_new());
  return context != nullptr &&
         EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

absl::StatusOr<std::string> PublicKeyDer(std::string_view public_key_pem) {
  Owned<BIO> bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  Owned<EVP_PKEY> key(bio == nullptr ? nullptr
                                     : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return absl::InvalidArgumentError("not a PEM public key");
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key.get(), &der);
  if (length <= 0) return absl::InternalError("cannot encode the public key");
  std::string encoded(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return encoded;
}

absl::StatusOr<std::string> PublicKeyPemFromDer(std::string_view der) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(der.data());
  Owned<EVP_PKEY> key(d2i_PUBKEY(nullptr, &bytes, static_cast<long>(der.size())));
  if (key == nullptr || bytes != reinterpret_cast<const unsigned char*>(der.data()) + der.size() ||
      !EVP_PKEY_is_a(key.get(), "EC")) {
    return absl::InvalidArgumentError("not a DER ECDSA public key");
  }
  char curve[64] = {};
  size_t curve_length = 0;
  if (EVP_PKEY_get_utf8_string_param(key.get(), "group", curve, sizeof(curve), &curve_length) !=
          1 ||
      std::string_view(curve, curve_length) != "prime256v1") {
    return absl::InvalidArgumentError("not a P-256 public key");
  }
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    return absl::InternalError("cannot encode the public key");
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

}  // namespace hub::auth
