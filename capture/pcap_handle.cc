#include "capture/pcap_handle.h"

#include <stdexcept>

namespace bulkhead::capture {

PcapHandle::~PcapHandle() {
  if (handle_ != nullptr) {
    pcap_close(handle_);
  }
}

PcapHandle& PcapHandle::operator=(PcapHandle&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) {
      pcap_close(handle_);
    }
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

std::string PcapHandle::LastError() const {
  if (handle_ == nullptr) {
    return {};
  }
  return pcap_geterr(handle_);
}

void PcapHandle::BreakLoop() noexcept {
  if (handle_ != nullptr) {
    pcap_breakloop(handle_);
  }
}

bool FrameDelivery::DeliverNflog(const RawFrame& frame) noexcept {
  NflogMessage message;
  const DecodeOutcome outcome = DecodeNflog(frame, summary_, message);
  stats_.decode.Count(outcome);
  if (outcome != DecodeOutcome::kOk && outcome != DecodeOutcome::kNonFirstFragment &&
      outcome != DecodeOutcome::kOtherTransport) {
    return true;
  }
  try {
    sink_.OnLoggedPacket(summary_, message, outcome);
    if (outcome == DecodeOutcome::kOk) {
      ++stats_.delivered;  // as for other links: a summary with ports reached the sink
    }
    return true;
  } catch (...) {
    failure_ = std::current_exception();
    return false;
  }
}

std::string FrameDelivery::FailureMessage() const {
  if (failure_ == nullptr) {
    return {};
  }
  try {
    std::rethrow_exception(failure_);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace bulkhead::capture
