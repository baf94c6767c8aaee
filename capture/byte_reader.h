#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace bulkhead::capture {

// The one bounds-checked way to read packet bytes (STYLE.md rule 9). Every read checks what
// remains; a failed read leaves the reader unchanged and returns false, so a decoder turns it into
// a named reason instead of reading past the capture. Take(n) returns a sub-reader limited to n
// bytes, which makes a length field from the packet a hard boundary.
class ByteReader {
 public:
  ByteReader() = default;
  explicit ByteReader(std::span<const std::uint8_t> data) : data_(data) {}

  std::size_t remaining() const { return data_.size() - pos_; }
  std::size_t offset() const { return pos_; }
  std::span<const std::uint8_t> rest() const { return data_.subspan(pos_); }

  bool ReadU8(std::uint8_t& out) {
    if (remaining() < 1) {
      return false;
    }
    out = data_[pos_++];
    return true;
  }

  bool ReadBe16(std::uint16_t& out) {
    if (remaining() < 2) {
      return false;
    }
    out = static_cast<std::uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }

  bool ReadBe32(std::uint32_t& out) {
    if (remaining() < 4) {
      return false;
    }
    out = (std::uint32_t{data_[pos_]} << 24) | (std::uint32_t{data_[pos_ + 1]} << 16) |
          (std::uint32_t{data_[pos_ + 2]} << 8) | std::uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return true;
  }

  // Copies n bytes out; false (and nothing copied) if fewer remain.
  bool ReadBytes(std::uint8_t* out, std::size_t n) {
    if (remaining() < n) {
      return false;
    }
    // One memcpy, not a byte loop: a fixed-size copy becomes a single load and store, which the
    // reader of `out` can then load whole without a store-forwarding stall.
    if (n != 0) {  // memcpy must not see the null pointers of an empty span
      std::memcpy(out, data_.data() + pos_, n);
    }
    pos_ += n;
    return true;
  }

  bool Skip(std::size_t n) {
    if (remaining() < n) {
      return false;
    }
    pos_ += n;
    return true;
  }

  // Reads the next n bytes as their own reader and advances past them.
  bool Take(std::size_t n, ByteReader& out) {
    if (remaining() < n) {
      return false;
    }
    out = ByteReader(data_.subspan(pos_, n));
    pos_ += n;
    return true;
  }

  // Narrows this reader to at most n further bytes (a length field shorter than the capture).
  void Limit(std::size_t n) {
    if (n < remaining()) {
      data_ = data_.first(pos_ + n);
    }
  }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
};

}  // namespace bulkhead::capture
