// Off-chip memory model for generated Verilator testbenches (header-only, C++17).
//
// One port of `bytes_per_cycle` bytes (one beat) at the kernel clock. Per cycle it accepts at
// most one read request and at most one write; a read accepted in cycle t returns its beat in
// cycle t + latency_cycles (in request order); a write commits when it is accepted.
//
// Per cycle, with the clock low and the design's inputs applied:
//   1. mem.drive(rvalid, rdata)            -> values for mem_rvalid / mem_rdata this cycle
//      mem.req_ready() / mem.wready()     -> always true (one request per cycle at most)
//   2. eval(), then mem.sample_read(req_valid, addr) and mem.sample_write(wvalid, addr, data)
//   3. rising edge, then mem.tick()
// Counters (cycles, read/write beats) give the achieved bandwidth in bytes per cycle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <stdexcept>
#include <vector>

namespace intar {

class OffchipMemory {
 public:
  OffchipMemory(int bytes_per_cycle, int latency_cycles, std::size_t beats)
      : bytes_(bytes_per_cycle),
        words_((bytes_per_cycle + 3) / 4),
        latency_(latency_cycles),
        data_(beats * std::size_t((bytes_per_cycle + 3) / 4), 0u) {
    if (bytes_per_cycle < 1 || latency_cycles < 1) throw std::invalid_argument("bad memory");
  }

  int words_per_beat() const { return words_; }
  int bytes_per_cycle() const { return bytes_; }
  int latency_cycles() const { return latency_; }
  std::size_t beats() const { return data_.size() / std::size_t(words_); }
  uint32_t* beat(std::size_t addr) { return &data_.at(addr * std::size_t(words_)); }

  bool req_ready() const { return true; }
  bool wready() const { return true; }

  // Read beat due this cycle, if any: sets rvalid and copies words_per_beat() words to rdata.
  void drive(bool& rvalid, uint32_t* rdata) const {
    rvalid = !pending_.empty() && pending_.front().due == cycle_;
    if (rvalid) {
      const uint32_t* src = &data_.at(pending_.front().addr * std::size_t(words_));
      for (int i = 0; i < words_; ++i) rdata[i] = src[i];
    }
  }

  void sample_read(bool req_valid, uint64_t addr) {
    if (!req_valid) return;
    if (addr >= beats()) throw std::out_of_range("read address out of range");
    pending_.push_back({cycle_ + uint64_t(latency_), addr});
    ++read_reqs_;
  }

  void sample_write(bool wvalid, uint64_t addr, const uint32_t* wdata) {
    if (!wvalid) return;
    uint32_t* dst = beat(addr);
    for (int i = 0; i < words_; ++i) dst[i] = wdata[i];
    ++write_beats_;
  }

  // End of cycle: retire the beat that was driven this cycle.
  void tick() {
    if (!pending_.empty() && pending_.front().due == cycle_) {
      pending_.pop_front();
      ++read_beats_;
    }
    ++cycle_;
  }

  uint64_t cycles() const { return cycle_; }
  uint64_t read_requests() const { return read_reqs_; }
  uint64_t read_beats() const { return read_beats_; }
  uint64_t write_beats() const { return write_beats_; }
  std::size_t in_flight() const { return pending_.size(); }
  double bytes_per_cycle_achieved(uint64_t cycles) const {
    return cycles ? double((read_beats_ + write_beats_) * uint64_t(bytes_)) / double(cycles) : 0.0;
  }

 private:
  struct Pending {
    uint64_t due;
    uint64_t addr;
  };
  int bytes_, words_, latency_;
  std::vector<uint32_t> data_;
  std::deque<Pending> pending_;
  uint64_t cycle_ = 0, read_reqs_ = 0, read_beats_ = 0, write_beats_ = 0;
};

}  // namespace intar
