// Native limit order book and matching engine.
//
// Exactly the semantics of makerkit/book/_pure.py (the reference): the same
// reject reasons in the same order of checks, the same sequence numbers and
// the same fills. A differential test drives both with random commands.
//
// Layout: orders live in a pool (vector + free list) and form intrusive FIFO
// lists per price level; levels live in a pool too; each side keeps a vector
// of (price, level) sorted so that the best price is at the back, so that the
// busy end of the book is cheap to insert into and pop; an open-addressing
// hash map finds orders by id. In steady state nothing allocates.
//
// Not thread-safe: one writer drives a book.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "makerkit/types.hpp"

namespace makerkit {

using std::size_t;

// Open-addressing map from positive order id to pool index (linear probing,
// backward-shift deletion, power-of-two capacity).
class IdMap {
 public:
  IdMap() { rehash(1024); }
  int32_t find(int64_t key) const {
    size_t i = slot(key);
    while (true) {
      const Entry& e = table_[i];
      if (e.key == key) return e.val;
      if (e.key == 0) return -1;
      i = (i + 1) & mask_;
    }
  }
  void insert(int64_t key, int32_t val) {
    if ((size_ + 1) * 2 > table_.size()) rehash(table_.size() * 2);
    size_t i = slot(key);
    while (table_[i].key != 0) i = (i + 1) & mask_;
    table_[i] = {key, val};
    ++size_;
  }
  void erase(int64_t key) {
    size_t i = slot(key);
    while (table_[i].key != key) {
      if (table_[i].key == 0) return;
      i = (i + 1) & mask_;
    }
    // backward-shift: pull later entries of the probe run into the hole
    size_t hole = i;
    size_t j = i;
    while (true) {
      j = (j + 1) & mask_;
      if (table_[j].key == 0) break;
      const size_t home = slot(table_[j].key);
      const bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        table_[hole] = table_[j];
        hole = j;
      }
    }
    table_[hole] = {0, -1};
    --size_;
  }
  size_t size() const { return size_; }

 private:
  struct Entry {
    int64_t key;  // 0 = empty (keys are positive)
    int32_t val;
  };
  // Fibonacci hashing: one multiply, top bits; spreads sequential ids evenly
  size_t slot(int64_t key) const {
    return static_cast<size_t>((static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ULL) >> shift_);
  }
  void rehash(size_t cap) {
    std::vector<Entry> old(cap, Entry{0, -1});
    old.swap(table_);
    mask_ = cap - 1;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(cap));
    size_ = 0;
    for (const Entry& e : old)
      if (e.key != 0) insert(e.key, e.val);
  }
  std::vector<Entry> table_;
  size_t mask_ = 0;
  unsigned shift_ = 64;
  size_t size_ = 0;
};

struct Order {
  int64_t id;
  int64_t account;
  int64_t price;
  int64_t qty;
  int64_t remaining;
  int64_t filled;
  int64_t ts;
  int32_t prev;
  int32_t next;
  int32_t level;
  int8_t side;
  uint8_t type;
  uint8_t tif;
  uint8_t stp;
};

struct Level {
  int64_t price;
  int64_t total;
  int32_t count;
  int32_t head;
  int32_t tail;
};

struct RestingView {
  int64_t order_id;
  int64_t qty;
  int64_t account;
};

class OrderBook {
 public:
  // fill_history < 0 keeps every fill; otherwise the newest fill_history.
  explicit OrderBook(int64_t fill_history = 100000);

  Result submit(int64_t order_id, int64_t side, int64_t price, int64_t qty, int64_t order_type,
                int64_t tif, int64_t account, int64_t stp, int64_t ts);
  Result cancel(int64_t order_id, int64_t ts);
  Result reduce(int64_t order_id, int64_t qty, int64_t ts);
  Result execute(int64_t order_id, int64_t qty, int64_t ts);
  Result modify(int64_t order_id, int64_t price, int64_t qty, int64_t ts);

  // Handle-based variants for hot loops that already looked the order up:
  // `idx` must come from find() with no mutation in between (-1 = unknown).
  int32_t find(int64_t order_id) const { return ids_.find(order_id); }
  int64_t remaining_at(int32_t idx) const { return idx < 0 ? 0 : pool_[idx].remaining; }
  Result cancel_at(int32_t idx, int64_t order_id, int64_t ts);
  Result execute_at(int32_t idx, int64_t order_id, int64_t qty, int64_t ts);

  // Put a live order back at the tail of its level exactly as a snapshot
  // recorded it (no matching, no sequence number); snapshots are restored
  // order by order in priority. Refuses what no live book could hold.
  ErrorCode restore_order(int64_t order_id, int64_t side, int64_t price, int64_t qty,
                          int64_t remaining, int64_t filled, int64_t account, int64_t order_type,
                          int64_t tif, int64_t stp, int64_t ts);
  // Sequence number and fill history of a snapshot (after its orders).
  void restore_history(int64_t seq, const std::vector<Fill>& fills);

  // fills and STP cancels produced by the last command
  const std::vector<Fill>& last_fills() const { return last_fills_; }
  const std::vector<int64_t>& last_canceled() const { return last_canceled_; }

  int64_t seq() const { return seq_; }
  // Counts every change to one side's levels; equal values mean an unchanged side.
  uint64_t version(int side) const { return side == 1 ? bid_version_ : ask_version_; }
  size_t size() const { return ids_.size(); }
  bool contains(int64_t order_id) const { return ids_.find(order_id) >= 0; }
  int64_t remaining(int64_t order_id) const {
    const int32_t idx = ids_.find(order_id);
    return idx < 0 ? 0 : pool_[idx].remaining;
  }
  const Order* order(int64_t order_id) const {
    const int32_t idx = ids_.find(order_id);
    return idx < 0 ? nullptr : &pool_[idx];
  }
  // best level of a side: false when empty
  bool best(int side, int64_t& price, int64_t& size) const;
  // the best `depth` levels, best first; returns how many were written
  size_t top(int side, size_t depth, int64_t* prices, int64_t* sizes, int32_t* counts) const;
  size_t level_count(int side) const { return ladder(side).size(); }
  int64_t depth_at(int side, int64_t price) const;
  // Visit (price, size) of each level from the best outwards until f returns false.
  template <class F>
  void for_each_level(int side, F&& f) const {
    const Ladder& lad = ladder(side);
    for (auto it = lad.rbegin(); it != lad.rend(); ++it)
      if (!f(it->first, levels_[it->second].total)) return;
  }
  // Does the top of `side` equal a LOBSTER-style row? `row` points at the first
  // price of that side, `stride` apart per level, the size right after each
  // price; prices are in units of `tick` ticks; `dummy` marks an empty level.
  bool top_matches(int side, const int64_t* row, int64_t levels, int64_t stride, int64_t tick,
                   int64_t dummy) const {
    const Ladder& lad = ladder(side);
    const size_t n = lad.size();
    if (levels > 0 && static_cast<size_t>(levels) <= n) {
      // full window (the usual case): accumulate differences without a branch per level
      int64_t diff = 0;
      const auto* e = lad.data() + n - 1;
      for (int64_t j = 0; j < levels; ++j, --e)
        diff |= (e->first * tick ^ row[j * stride]) | (levels_[e->second].total ^ row[j * stride + 1]);
      // Equal rows cannot hold a dummy unless a book level sits at the dummy
      // price; levels are sorted, so testing the worst one compared suffices.
      const int64_t worst = (e + 1)->first * tick;
      return diff == 0 && (side == 1 ? worst > dummy : worst < dummy);
    }
    int64_t k = 0;
    for (; k < levels; ++k) {
      const int64_t raw = row[k * stride];
      if (raw == dummy) break;
      if (static_cast<size_t>(k) >= n) return false;
      const auto& e = lad[n - 1 - static_cast<size_t>(k)];
      if (e.first * tick != raw || levels_[e.second].total != row[k * stride + 1]) return false;
    }
    // a shorter row (dummies) means the book must have no more levels than that
    return k == levels || static_cast<size_t>(k) == n;
  }
  void orders_at(int side, int64_t price, std::vector<RestingView>& out) const;
  // every live order: bids then asks, each best level first, FIFO within a level
  void all_orders(std::vector<const Order*>& out) const;
  // retained fill history, oldest first
  void fills(std::vector<Fill>& out) const;

 private:
  using Ladder = std::vector<std::pair<int64_t, int32_t>>;  // (price, level), best at back
  Ladder& ladder(int side) { return side == 1 ? bids_ : asks_; }
  const Ladder& ladder(int side) const { return side == 1 ? bids_ : asks_; }
  // position of price in a ladder (insertion point when absent)
  static size_t find_pos(const Ladder& ladder, int side, int64_t price, bool& found);
  static int64_t level_key(int side, int64_t price) { return price * 2 + (side == 1 ? 1 : 0); }
  int32_t new_order();
  void rest(int32_t idx);                      // append to its level (creating it)
  void take(int32_t idx, int64_t qty);         // remove qty; unlink and free at zero
  bool crosses(int side, int64_t price) const;  // would a limit at price trade now?
  int64_t fillable(int side, bool has_limit, int64_t limit, int64_t qty, int64_t account,
                   int stp) const;
  // match order idx (not resting) against the other side; true when STP stopped it
  bool match(int32_t idx, bool has_limit, int64_t limit, int64_t ts);
  void record(const Fill& fill);
  Result reject(int64_t order_id, ErrorCode code) const {
    Result r;
    r.order_id = order_id;
    r.status = Status::Rejected;
    r.reason = code;
    return r;
  }
  void begin_command() {
    last_fills_.clear();
    last_canceled_.clear();
  }

  std::vector<Order> pool_;
  std::vector<int32_t> free_orders_;
  std::vector<Level> levels_;
  std::vector<int32_t> free_levels_;
  Ladder bids_;  // ascending price: best (highest) at back
  Ladder asks_;  // descending price: best (lowest) at back
  IdMap ids_;
  IdMap level_ids_;  // price * 2 + (side is buy) -> level, so adds to a level skip the search
  uint64_t bid_version_ = 0;
  uint64_t ask_version_ = 0;
  void touch(int side) { ++(side == 1 ? bid_version_ : ask_version_); }
  int64_t seq_ = 0;
  std::vector<Fill> last_fills_;
  std::vector<int64_t> last_canceled_;
  std::vector<Fill> history_;
  size_t history_head_ = 0;  // next slot to overwrite once the ring is full
  int64_t history_cap_;
};

}  // namespace makerkit
