// See makerkit/backtest/_lobster_replay.py for the rules; this is the same
// algorithm without a Python call per message.
#include "makerkit/lobster_replay.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <unordered_map>
#include <utility>

namespace makerkit {

namespace {

constexpr int64_t kPlaceholderBase = int64_t{1} << 60;

class Replayer {
 public:
  Replayer(OrderBook& book, const LobsterInput& in, LobsterStats& st)
      : book_(book), in_(in), st_(st) {}

  void add_placeholder(int side, int64_t price, int64_t qty, int64_t ts) {
    const int64_t oid = ++next_placeholder_;
    book_.submit(oid, side, price, qty, 0, 0, 0, 1, ts);
    placeholders_[key(side, price)].push_back(oid);
  }

  void act(int64_t oid, int64_t qty, bool execute, int64_t ts) {
    if (execute)
      book_.execute(oid, qty, ts);
    else
      book_.reduce(oid, qty, ts);
  }

  void take_placeholder(int side, int64_t price, int64_t qty, bool execute, int64_t ts) {
    ++st_.placeholder_refs;
    auto it = placeholders_.find(key(side, price));
    if (it != placeholders_.end()) {
      auto& ids = it->second;
      while (qty > 0 && !ids.empty()) {
        const int64_t oid = ids.front();
        const int64_t have = book_.remaining(oid);
        if (have == 0) {
          ids.pop_front();
          continue;
        }
        const int64_t take = std::min(qty, have);
        act(oid, take, execute, ts);
        qty -= take;
        if (take == have) ids.pop_front();
      }
    }
    if (qty > 0) {
      ++st_.dark_refs;
      book_.orders_at(side, price, scratch_);
      for (auto r = scratch_.rbegin(); r != scratch_.rend(); ++r) {
        const int64_t take = std::min(qty, r->qty);
        act(r->order_id, take, execute, ts);
        qty -= take;
        if (qty == 0) return;
      }
      ++st_.unresolved_refs;
    }
  }

  void settle(int64_t oid, int64_t have, int side, int64_t price, int64_t size, int64_t ts) {
    if (have) {
      book_.cancel(oid, ts);
      ++st_.dark_refs;
      if (have > size) {
        add_placeholder(side, price, have - size, ts);
        return;
      }
    }
    take_placeholder(side, price, size - have, false, ts);
  }

  void settle_execution(int64_t oid, int side, int64_t price, int64_t size, int64_t ts) {
    const int64_t have = book_.remaining(oid);
    if (have) {
      ++st_.dark_refs;
      book_.execute(oid, have, ts);
    }
    take_placeholder(side, price, size - have, true, ts);
  }

  void settle_reduce(int64_t oid, int side, int64_t price, int64_t size, int64_t ts) {
    const int64_t have = book_.remaining(oid);
    if (have) {
      book_.cancel(oid, ts);
      if (have == size) return;
      ++st_.dark_refs;
    }
    take_placeholder(side, price, size - have, false, ts);
  }

  void sync_level(int side, int64_t price, int64_t target, int64_t ts) {
    const int64_t current = book_.depth_at(side, price);
    if (current == target) return;
    ++st_.seeded_levels;
    if (target > current) {
      add_placeholder(side, price, target - current, ts);
      return;
    }
    int64_t excess = current - target;
    auto it = placeholders_.find(key(side, price));
    if (it != placeholders_.end()) {
      auto& ids = it->second;
      const std::vector<int64_t> snapshot(ids.begin(), ids.end());
      for (const int64_t oid : snapshot) {
        const int64_t have = book_.remaining(oid);
        if (have == 0) {
          ids.erase(std::find(ids.begin(), ids.end(), oid));
          continue;
        }
        const int64_t take = std::min(excess, have);
        book_.reduce(oid, take, ts);
        if (take == have) ids.erase(std::find(ids.begin(), ids.end(), oid));
        excess -= take;
        if (excess == 0) return;
      }
    }
    book_.orders_at(side, price, scratch_);
    for (auto r = scratch_.rbegin(); r != scratch_.rend(); ++r) {
      const int64_t take = std::min(excess, r->qty);
      book_.reduce(r->order_id, take, ts);
      excess -= take;
      if (excess == 0) return;
    }
  }

  void sync_entering(int side, int64_t boundary, const int64_t* prices, const int64_t* sizes,
                     size_t n, int64_t ts) {
    auto& fresh = fresh_;
    fresh.clear();
    for (size_t k = 0; k < n; ++k)
      if (side == -1 ? prices[k] > boundary : prices[k] < boundary)
        fresh.emplace_back(prices[k], sizes[k]);
    if (fresh.empty()) return;
    const int64_t last = fresh.back().first;
    // every book level between the old boundary and the new last level
    stale_.clear();
    book_.for_each_level(side, [&](int64_t p, int64_t) {
      if (side == -1 ? p > last : p < last) return false;
      if (side == -1 ? p > boundary : p < boundary) stale_.push_back(p);
      return true;
    });
    for (const int64_t p : stale_) {
      const bool wanted = std::any_of(fresh.begin(), fresh.end(),
                                      [p](const auto& f) { return f.first == p; });
      if (!wanted) sync_level(side, p, 0, ts);
    }
    for (const auto& [p, q] : fresh) sync_level(side, p, q, ts);
  }

  void seed() {
    std::map<std::pair<int, int64_t>, int64_t> levels;
    const int64_t* row = in_.book;
    for (int64_t k = 0; k < in_.levels; ++k) {
      const int64_t ap = row[4 * k], asz = row[4 * k + 1], bp = row[4 * k + 2],
                    bsz = row[4 * k + 3];
      if (ap != kLobsterDummyAsk && asz > 0) levels[{-1, ap / in_.tick}] = asz;
      if (bp != kLobsterDummyBid && bsz > 0) levels[{1, bp / in_.tick}] = bsz;
    }
    const int side = static_cast<int>(in_.direction[0]);
    const int64_t price = in_.price[0] / in_.tick;
    const int64_t t = in_.type[0];
    if (t == 1) levels[{side, price}] -= in_.size[0];
    if (t == 2 || t == 3 || t == 4) levels[{side, price}] += in_.size[0];
    // asks first, best (lowest) first; then bids, best (highest) first
    std::vector<std::pair<std::pair<int, int64_t>, int64_t>> order(levels.begin(), levels.end());
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      const auto ka = std::make_pair(a.first.first, a.first.second * -a.first.first);
      const auto kb = std::make_pair(b.first.first, b.first.second * -b.first.first);
      return ka < kb;
    });
    for (const auto& [lv, qty] : order) {
      if (qty > 0) {
        add_placeholder(lv.first, lv.second, qty, 0);
        ++st_.initial_levels;
      }
    }
  }

 private:
  static int64_t key(int side, int64_t price) { return price * 2 + (side == 1 ? 1 : 0); }
  OrderBook& book_;
  const LobsterInput& in_;
  LobsterStats& st_;
  int64_t next_placeholder_ = kPlaceholderBase;
  std::unordered_map<int64_t, std::deque<int64_t>> placeholders_;
  std::vector<RestingView> scratch_;
  std::vector<int64_t> stale_;
  std::vector<std::pair<int64_t, int64_t>> fresh_;
};

// expected side of one orderbook row, in ticks, dummies dropped
size_t expected_side(const LobsterInput& in, int64_t row, int side, int64_t* prices,
                     int64_t* sizes) {
  const int64_t* r = in.book + row * 4 * in.levels;
  const int off = side == -1 ? 0 : 2;
  const int64_t dummy = side == -1 ? kLobsterDummyAsk : kLobsterDummyBid;
  size_t n = 0;
  for (int64_t k = 0; k < in.levels; ++k) {
    const int64_t p = r[4 * k + off];
    if (p == dummy) continue;
    prices[n] = p / in.tick;
    sizes[n] = r[4 * k + off + 1];
    ++n;
  }
  return n;
}

}  // namespace

LobsterStats replay_lobster(OrderBook& book, const LobsterInput& in) {
  LobsterStats st;
  if (in.rows == 0) return st;
  Replayer rep(book, in, st);
  rep.seed();
  const size_t n = static_cast<size_t>(in.levels);
  std::vector<int64_t> eap(n), eas(n), ebp(n), ebs(n), gp(n), gs(n);
  const int64_t last_col = 4 * (in.levels - 1);
  bool halted = false;
  // A side is verified against row i when the book side has not changed since
  // it matched row i-1 and row i repeats row i-1 on that side; otherwise it is
  // compared level by level. Exact, and half the work on one-sided messages.
  constexpr uint64_t kUnverified = UINT64_MAX;
  uint64_t verified[2] = {kUnverified, kUnverified};  // [ask, bid]: book version that matched row i-1
  int64_t verified_row[2] = {-1, -1};
  auto side_ok = [&](int64_t i, int side) {
    const int s = side == -1 ? 0 : 1;
    const int64_t* cur = in.book + i * 4 * in.levels + 2 * s;
    const uint64_t v = book.version(side);
    bool ok = false;
    if (v == verified[s] && verified_row[s] == i - 1) {
      const int64_t* prev = cur - 4 * in.levels;
      int64_t d = 0;
      for (int64_t k = 0; k < 4 * in.levels; k += 4) d |= (cur[k] ^ prev[k]) | (cur[k + 1] ^ prev[k + 1]);
      ok = d == 0;
    }
    if (!ok)
      ok = book.top_matches(side, cur, in.levels, 4, in.tick,
                            side == -1 ? kLobsterDummyAsk : kLobsterDummyBid);
    verified[s] = ok ? v : kUnverified;
    verified_row[s] = ok ? i : -1;
    return ok;
  };
  // price / tick without a hardware divide per message: a double estimate, corrected exactly
  const double inv_tick = 1.0 / static_cast<double>(in.tick);
  auto to_ticks = [&](int64_t raw) {
    int64_t q = static_cast<int64_t>(static_cast<double>(raw) * inv_tick);
    while (q * in.tick > raw) --q;
    while ((q + 1) * in.tick <= raw) ++q;
    return q;
  };
  for (int64_t i = 0; i < in.rows; ++i) {
    const int64_t t = in.type[i];
    const int64_t oid = in.order_id[i];
    const int side = static_cast<int>(in.direction[i]);
    const int64_t price = to_ticks(in.price[i]);
    const int64_t size = in.size[i];
    const int64_t ts = in.ts[i];
    switch (t) {
      case 1:
        book.submit(oid, side, price, size, 0, 0, 0, 1, ts);
        break;
      case 3: {
        const int32_t idx = book.find(oid);
        const int64_t have = book.remaining_at(idx);
        if (have == size)
          book.cancel_at(idx, oid, ts);
        else
          rep.settle(oid, have, side, price, size, ts);
        break;
      }
      case 4: {
        ++st.visible_trades;
        st.visible_volume += size;
        if (halted) ++st.halt_violations;
        const int32_t idx = book.find(oid);
        if (book.remaining_at(idx) >= size)
          book.execute_at(idx, oid, size, ts);
        else
          rep.settle_execution(oid, side, price, size, ts);
        break;
      }
      case 2:
        if (book.remaining(oid) > size)
          book.reduce(oid, size, ts);
        else
          rep.settle_reduce(oid, side, price, size, ts);
        break;
      case 5:
        ++st.hidden_trades;
        st.hidden_volume += size;
        if (halted) ++st.halt_violations;
        break;
      case 6:
        ++st.cross_trades;
        break;
      default: {  // 7: raw price -1 halts, 0 resumes quoting only, 1 resumes trading
        const int64_t raw = in.price[i];
        st.halts += raw == -1;
        halted = raw != 1;
      }
    }
    if (in.check) {
      const int64_t* cur = in.book + i * 4 * in.levels;
      bool ok = side_ok(i, -1) && side_ok(i, 1);
      if (!ok && i > 0) {
        const int64_t* prev = cur - 4 * in.levels;
        // a level entered from beyond the window (same rule as _entering_rows)
        if (prev[last_col] != kLobsterDummyAsk && cur[last_col] > prev[last_col]) {
          const size_t ka = expected_side(in, i, -1, eap.data(), eas.data());
          rep.sync_entering(-1, prev[last_col] / in.tick, eap.data(), eas.data(), ka, ts);
        }
        if (prev[last_col + 2] != kLobsterDummyBid && cur[last_col + 2] < prev[last_col + 2] &&
            cur[last_col + 2] != kLobsterDummyBid) {
          const size_t kb = expected_side(in, i, 1, ebp.data(), ebs.data());
          rep.sync_entering(1, prev[last_col + 2] / in.tick, ebp.data(), ebs.data(), kb, ts);
        }
        ok = side_ok(i, -1) && side_ok(i, 1);
      }
      if (!ok) {
        ++st.mismatched_rows;
        st.mismatch_rows.push_back(i);
        if (st.first_mismatch_row < 0) {
          st.first_mismatch_row = i;
          const size_t na = book.top(-1, n, gp.data(), gs.data(), nullptr);
          st.got_ask_prices.assign(gp.begin(), gp.begin() + static_cast<std::ptrdiff_t>(na));
          st.got_ask_sizes.assign(gs.begin(), gs.begin() + static_cast<std::ptrdiff_t>(na));
          const size_t nb = book.top(1, n, gp.data(), gs.data(), nullptr);
          st.got_bid_prices.assign(gp.begin(), gp.begin() + static_cast<std::ptrdiff_t>(nb));
          st.got_bid_sizes.assign(gs.begin(), gs.begin() + static_cast<std::ptrdiff_t>(nb));
        }
      }
    }
    if (in.l1) {
      int64_t* out = in.l1 + 4 * i;
      int64_t p = 0, s = 0;
      if (book.best(-1, p, s)) {
        out[0] = p * in.tick;
        out[1] = s;
      } else {
        out[0] = out[1] = 0;
      }
      if (book.best(1, p, s)) {
        out[2] = p * in.tick;
        out[3] = s;
      } else {
        out[2] = out[3] = 0;
      }
    }
  }
  return st;
}

}  // namespace makerkit
