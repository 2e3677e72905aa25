// Checked L3 replay of a LOBSTER day inside C++ (the batch path of
// `makerkit replay lobster --engine native`). Mirrors
// makerkit/backtest/_lobster_replay.py step for step, including the seeding
// rules, so that both engines report the same numbers.
#pragma once

#include <cstdint>
#include <vector>

#include "makerkit/order_book.hpp"

namespace makerkit {

inline constexpr int64_t kLobsterDummyAsk = 9999999999LL;
inline constexpr int64_t kLobsterDummyBid = -9999999999LL;

struct LobsterInput {
  int64_t rows = 0;
  const int64_t* type = nullptr;
  const int64_t* order_id = nullptr;
  const int64_t* size = nullptr;
  const int64_t* price = nullptr;  // LOBSTER units (USD x 10000)
  const int64_t* direction = nullptr;
  const int64_t* ts = nullptr;
  const int64_t* book = nullptr;  // rows x 4*levels, LOBSTER units, may be null without check
  int64_t levels = 0;
  int64_t tick = 1;  // price grid in LOBSTER units
  bool check = true;
  int64_t* l1 = nullptr;  // optional rows x 4 output (ask px, ask size, bid px, bid size)
};

struct LobsterStats {
  int64_t mismatched_rows = 0;
  int64_t first_mismatch_row = -1;
  std::vector<int64_t> mismatch_rows;  // every mismatching row (0-based)
  int64_t seeded_levels = 0;
  int64_t initial_levels = 0;
  int64_t placeholder_refs = 0;
  int64_t unresolved_refs = 0;
  int64_t dark_refs = 0;
  int64_t visible_trades = 0;
  int64_t visible_volume = 0;
  int64_t hidden_trades = 0;
  int64_t hidden_volume = 0;
  int64_t cross_trades = 0;
  int64_t halts = 0;
  int64_t halt_violations = 0;
  // the book's top levels (ticks) at the first mismatching row
  std::vector<int64_t> got_ask_prices, got_ask_sizes, got_bid_prices, got_bid_sizes;
};

// Replays `in` through `book` (normally empty). Returns the statistics.
LobsterStats replay_lobster(OrderBook& book, const LobsterInput& in);

}  // namespace makerkit
