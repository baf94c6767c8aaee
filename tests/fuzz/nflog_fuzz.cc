// Fuzz target for the NFLOG walk (capture::WalkNflog) and the decode on top of it
// (capture::DecodeNflog): the input is one DLT_NFLOG message as libpcap's nflog:N device hands it
// over. Beyond "no crash, no out-of-bounds read" (the sanitizers' part), it checks what the
// violation reader relies on: the prefix and payload views lie inside the message, the prefix
// holds no NUL, a payload is reported exactly when the walk says kOk, and the walk and the
// decoder agree on every malformation of the NFLOG layer.
#include <cstddef>
#include <cstdint>
#include <span>

#include "capture/nflog.h"
#include "tests/fuzz/promise.h"

namespace {

using bulkhead::capture::DecodeOutcome;

bool Inside(std::span<const std::uint8_t> whole, const void* begin, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(begin);
  return size == 0 || (p >= whole.data() && p + size <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> message(data, size);
  bulkhead::capture::NflogMessage walked;
  const DecodeOutcome walk = bulkhead::capture::WalkNflog(message, walked);
  BULKHEAD_PROMISE(walk == DecodeOutcome::kOk || walk == DecodeOutcome::kNotIp ||
                   walk == DecodeOutcome::kUnsupportedLink ||
                   walk == DecodeOutcome::kTruncatedNflog || walk == DecodeOutcome::kBadNflogTlv ||
                   walk == DecodeOutcome::kNflogTooManyTlvs);
  BULKHEAD_PROMISE(walked.has_payload == (walk == DecodeOutcome::kOk));
  BULKHEAD_PROMISE(Inside(message, walked.prefix.data(), walked.prefix.size()));
  BULKHEAD_PROMISE(Inside(message, walked.payload.data(), walked.payload.size()));
  BULKHEAD_PROMISE(walked.prefix.find('\0') == std::string_view::npos);

  bulkhead::capture::RawFrame frame;
  frame.data = message;
  frame.wire_len = static_cast<std::uint32_t>(size);
  bulkhead::capture::PacketSummary summary;
  bulkhead::capture::NflogMessage decoded;
  const DecodeOutcome outcome = bulkhead::capture::DecodeNflog(frame, summary, decoded);
  BULKHEAD_PROMISE(outcome < DecodeOutcome::kCount);
  BULKHEAD_PROMISE(decoded.prefix == walked.prefix);
  if (walk != DecodeOutcome::kOk) {
    BULKHEAD_PROMISE(outcome == walk);  // the NFLOG layer's reason, not one from a layer below
  }
  if (summary.has_ports) {
    BULKHEAD_PROMISE(outcome == DecodeOutcome::kOk);
  }
  return 0;
}
