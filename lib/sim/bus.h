// Moving integers between C++ and the flat buses of intar's generated modules.
//
// A bus holds n elements of `bits` bits each, element 0 in the low bits. Buses are kept as
// vectors of 32-bit words; put/get copy them to and from Verilator ports of any width.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "verilated.h"

namespace intar {

template <class T> void put(T& port, const std::vector<uint32_t>& w) {
  uint64_t v = w[0] | (w.size() > 1 ? uint64_t(w[1]) << 32 : 0);
  port = static_cast<T>(v);
}
template <std::size_t N> void put(VlWide<N>& port, const std::vector<uint32_t>& w) {
  for (std::size_t i = 0; i < N; ++i) port[i] = w[i];
}
template <class T> void get(const T& port, std::vector<uint32_t>& w) {
  uint64_t v = port;
  w[0] = uint32_t(v);
  if (w.size() > 1) w[1] = uint32_t(v >> 32);
}
template <std::size_t N> void get(const VlWide<N>& port, std::vector<uint32_t>& w) {
  for (std::size_t i = 0; i < N; ++i) w[i] = port[i];
}

// Packs n signed elements of `bits` bits into the words of a bus.
inline void pack(std::vector<uint32_t>& w, const int64_t* e, int n, int bits) {
  std::fill(w.begin(), w.end(), 0u);
  for (int i = 0; i < n; ++i)
    for (int b = 0; b < bits; ++b)
      if ((uint64_t(e[i]) >> b) & 1u) w[(i * bits + b) / 32] |= 1u << ((i * bits + b) % 32);
}

// Element i of a bus, sign-extended.
inline int64_t field(const std::vector<uint32_t>& w, int i, int bits) {
  int64_t v = 0;
  for (int b = 0; b < bits; ++b)
    v |= int64_t((w[(i * bits + b) / 32] >> ((i * bits + b) % 32)) & 1u) << b;
  if ((v >> (bits - 1)) & 1) v -= int64_t(1) << bits;
  return v;
}

}  // namespace intar
