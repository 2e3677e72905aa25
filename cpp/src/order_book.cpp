// Matching rules: see makerkit/book/_pure.py, the reference this mirrors line
// for line (order of checks, sequence numbers, fills).
#include "makerkit/order_book.hpp"

#include <algorithm>

namespace makerkit {

namespace {
constexpr int kBuy = 1;
constexpr int kSell = -1;
constexpr int kGTC = 0;
constexpr int kIOC = 1;
constexpr int kFOK = 2;
constexpr int kPostOnly = 3;
constexpr int kStpNone = 0;
constexpr int kStpNewest = 1;
constexpr int kStpOldest = 2;
}  // namespace

OrderBook::OrderBook(int64_t fill_history) : history_cap_(fill_history) {
  pool_.reserve(1024);
  levels_.reserve(256);
  last_fills_.reserve(64);
}

size_t OrderBook::find_pos(const Ladder& ladder, int side, int64_t price, bool& found) {
  // bids ascending, asks descending: in both the best price is at the back.
  // "better(a, b)": a is closer to the touch than b.
  auto better = [side](int64_t a, int64_t b) { return side == kBuy ? a > b : a < b; };
  // most levels come and go near the touch: scan a few from the back first
  const size_t n = ladder.size();
  size_t k = 0;
  for (; k < 8 && k < n; ++k) {
    const int64_t p = ladder[n - 1 - k].first;
    if (!better(p, price)) {
      found = p == price;
      return found ? n - 1 - k : n - k;
    }
  }
  if (k == n) {
    found = false;
    return 0;
  }
  auto end = ladder.begin() + static_cast<std::ptrdiff_t>(n - k);
  auto it = side == kBuy
                ? std::lower_bound(ladder.begin(), end, price,
                                   [](const auto& e, int64_t p) { return e.first < p; })
                : std::lower_bound(ladder.begin(), end, price,
                                   [](const auto& e, int64_t p) { return e.first > p; });
  found = it != end && it->first == price;
  return static_cast<size_t>(it - ladder.begin());
}

int32_t OrderBook::new_order() {
  if (!free_orders_.empty()) {
    const int32_t idx = free_orders_.back();
    free_orders_.pop_back();
    return idx;
  }
  pool_.emplace_back();
  return static_cast<int32_t>(pool_.size() - 1);
}

void OrderBook::rest(int32_t idx) {
  Order& o = pool_[idx];
  touch(o.side);
  int32_t lvl = level_ids_.find(level_key(o.side, o.price));
  if (lvl < 0) {
    if (!free_levels_.empty()) {
      lvl = free_levels_.back();
      free_levels_.pop_back();
    } else {
      levels_.emplace_back();
      lvl = static_cast<int32_t>(levels_.size() - 1);
    }
    levels_[lvl] = Level{o.price, 0, 0, -1, -1};
    level_ids_.insert(level_key(o.side, o.price), lvl);
    Ladder& lad = ladder(o.side);
    bool found = false;
    const size_t pos = find_pos(lad, o.side, o.price, found);
    lad.insert(lad.begin() + static_cast<std::ptrdiff_t>(pos), {o.price, lvl});
  }
  Level& L = levels_[lvl];
  o.level = lvl;
  o.next = -1;
  o.prev = L.tail;
  if (L.tail >= 0)
    pool_[L.tail].next = idx;
  else
    L.head = idx;
  L.tail = idx;
  L.total += o.remaining;
  L.count += 1;
  ids_.insert(o.id, idx);
}

void OrderBook::take(int32_t idx, int64_t qty) {
  Order& o = pool_[idx];
  touch(o.side);
  Level& L = levels_[o.level];
  o.remaining -= qty;
  L.total -= qty;
  if (o.remaining != 0) return;
  if (o.prev >= 0)
    pool_[o.prev].next = o.next;
  else
    L.head = o.next;
  if (o.next >= 0)
    pool_[o.next].prev = o.prev;
  else
    L.tail = o.prev;
  L.count -= 1;
  ids_.erase(o.id);
  free_orders_.push_back(idx);
  if (L.count == 0) {
    Ladder& lad = ladder(o.side);
    bool found = false;
    const size_t pos = find_pos(lad, o.side, L.price, found);
    lad.erase(lad.begin() + static_cast<std::ptrdiff_t>(pos));
    level_ids_.erase(level_key(o.side, L.price));
    free_levels_.push_back(o.level);
  }
}

bool OrderBook::crosses(int side, int64_t price) const {
  const Ladder& opp = ladder(-side);
  if (opp.empty()) return false;
  const int64_t best = opp.back().first;
  return side == kBuy ? best <= price : best >= price;
}

int64_t OrderBook::fillable(int side, bool has_limit, int64_t limit, int64_t qty, int64_t account,
                            int stp) const {
  const Ladder& opp = ladder(-side);
  const bool stp_active = account != 0 && stp != kStpNone;
  int64_t total = 0;
  for (auto it = opp.rbegin(); it != opp.rend(); ++it) {
    const int64_t price = it->first;
    if (has_limit && (side == kBuy ? price > limit : price < limit)) break;
    for (int32_t m = levels_[it->second].head; m >= 0; m = pool_[m].next) {
      const Order& maker = pool_[m];
      if (stp_active && maker.account == account) {
        if (stp == kStpOldest) continue;
        return total;
      }
      total += maker.remaining;
      if (total >= qty) return total;
    }
  }
  return total;
}

void OrderBook::record(const Fill& fill) {
  last_fills_.push_back(fill);
  if (history_cap_ == 0) return;
  if (history_cap_ < 0 || history_.size() < static_cast<size_t>(history_cap_)) {
    history_.push_back(fill);
    return;
  }
  history_[history_head_] = fill;
  history_head_ = (history_head_ + 1) % history_.size();
}

bool OrderBook::match(int32_t idx, bool has_limit, int64_t limit, int64_t ts) {
  const int side = pool_[idx].side;
  Ladder& opp = ladder(-side);
  const int stp = pool_[idx].stp;
  const int64_t account = pool_[idx].account;
  const int64_t taker_id = pool_[idx].id;
  const bool stp_active = account != 0 && stp != kStpNone;
  while (pool_[idx].remaining > 0 && !opp.empty()) {
    const int64_t price = opp.back().first;
    if (has_limit && (side == kBuy ? price > limit : price < limit)) break;
    const int32_t lvl = opp.back().second;
    int32_t m = levels_[lvl].head;
    while (m >= 0) {
      Order& maker = pool_[m];
      const int32_t next = maker.next;
      // the level may vanish in take(); `next` and `lvl` are read before it
      const bool last_in_level = next < 0;
      if (stp_active && maker.account == account) {
        if (stp == kStpNewest) return true;
        last_canceled_.push_back(maker.id);
        take(m, maker.remaining);
        if (stp != kStpOldest) return true;
        m = next;
        if (last_in_level) break;
        continue;
      }
      Order& taker = pool_[idx];
      const int64_t qty = std::min(taker.remaining, maker.remaining);
      taker.remaining -= qty;
      taker.filled += qty;
      maker.filled += qty;
      const int64_t maker_id = maker.id;
      const int64_t maker_account = maker.account;
      take(m, qty);
      ++seq_;
      record(Fill{seq_, maker_id, taker_id, price, qty, maker_account, account, ts,
                  static_cast<int8_t>(side)});
      if (taker.remaining == 0) break;
      m = next;
      if (last_in_level) break;
    }
  }
  return false;
}

Result OrderBook::submit(int64_t order_id, int64_t side, int64_t price, int64_t qty,
                         int64_t order_type, int64_t tif, int64_t account, int64_t stp,
                         int64_t ts) {
  begin_command();
  if (order_id <= 0) return reject(order_id, ErrorCode::InvalidOrderId);
  if (side != kBuy && side != kSell) return reject(order_id, ErrorCode::InvalidField);
  if (qty <= 0) return reject(order_id, ErrorCode::NonPositiveQty);
  if (ids_.find(order_id) >= 0) return reject(order_id, ErrorCode::DuplicateOrderId);
  if (stp < 0 || stp > 3) return reject(order_id, ErrorCode::InvalidField);
  const int s = static_cast<int>(side);
  bool has_limit = false;
  if (order_type == 0) {
    if (price <= 0) return reject(order_id, ErrorCode::NonPositivePrice);
    if (tif < 0 || tif > 3) return reject(order_id, ErrorCode::InvalidTif);
    has_limit = true;
    if (!crosses(s, price)) {
      if (tif == kFOK) return reject(order_id, ErrorCode::FokNotFillable);
      ++seq_;
      Result r;
      r.order_id = order_id;
      r.seq = seq_;
      if (tif == kIOC) {
        r.status = Status::Expired;
        return r;
      }
      const int32_t idx = new_order();
      pool_[idx] = Order{order_id, account, price, qty, qty, 0, ts, -1, -1, -1,
                         static_cast<int8_t>(s), 0, static_cast<uint8_t>(tif),
                         static_cast<uint8_t>(stp)};
      rest(idx);
      r.status = Status::New;
      r.remaining = qty;
      return r;
    }
    if (tif == kPostOnly) return reject(order_id, ErrorCode::PostOnlyWouldCross);
  } else if (order_type == 1) {
    if (tif == kPostOnly || tif < 0 || tif > 3) return reject(order_id, ErrorCode::InvalidTif);
    if (ladder(-s).empty()) return reject(order_id, ErrorCode::NoLiquidity);
    if (tif == kGTC) tif = kIOC;
  } else {
    return reject(order_id, ErrorCode::InvalidField);
  }
  if (tif == kFOK && fillable(s, has_limit, price, qty, account, static_cast<int>(stp)) < qty)
    return reject(order_id, ErrorCode::FokNotFillable);
  ++seq_;
  Result r;
  r.order_id = order_id;
  r.seq = seq_;
  const int32_t idx = new_order();
  pool_[idx] = Order{order_id, account, price, qty, qty, 0, ts, -1, -1, -1,
                     static_cast<int8_t>(s), static_cast<uint8_t>(order_type),
                     static_cast<uint8_t>(tif), static_cast<uint8_t>(stp)};
  const bool stopped = match(idx, has_limit, price, ts);
  Order& o = pool_[idx];
  r.filled = o.filled;
  const bool rests =
      !stopped && o.remaining > 0 && order_type == 0 && (tif == kGTC || tif == kPostOnly);
  if (rests) {
    r.status = o.filled ? Status::PartiallyFilled : Status::New;
    r.remaining = o.remaining;
    rest(idx);
  } else {
    r.remaining = 0;
    r.status = o.remaining == 0 ? Status::Filled : (stopped ? Status::Canceled : Status::Expired);
    free_orders_.push_back(idx);
  }
  r.reason = stopped ? ErrorCode::SelfTrade : ErrorCode::Ok;
  return r;
}

Result OrderBook::cancel(int64_t order_id, int64_t ts) {
  return cancel_at(ids_.find(order_id), order_id, ts);
}

Result OrderBook::cancel_at(int32_t idx, int64_t order_id, int64_t /*ts*/) {
  begin_command();
  if (idx < 0) return reject(order_id, ErrorCode::UnknownOrder);
  Result r;
  r.order_id = order_id;
  r.status = Status::Canceled;
  r.filled = pool_[idx].filled;
  take(idx, pool_[idx].remaining);
  r.seq = ++seq_;
  return r;
}

Result OrderBook::reduce(int64_t order_id, int64_t qty, int64_t ts) {
  begin_command();
  const int32_t idx = ids_.find(order_id);
  if (idx < 0) return reject(order_id, ErrorCode::UnknownOrder);
  if (qty <= 0) return reject(order_id, ErrorCode::NonPositiveQty);
  if (qty >= pool_[idx].remaining) return cancel(order_id, ts);
  take(idx, qty);
  Result r;
  r.order_id = order_id;
  r.seq = ++seq_;
  r.filled = pool_[idx].filled;
  r.remaining = pool_[idx].remaining;
  r.status = r.filled ? Status::PartiallyFilled : Status::New;
  return r;
}

Result OrderBook::execute(int64_t order_id, int64_t qty, int64_t ts) {
  return execute_at(ids_.find(order_id), order_id, qty, ts);
}

Result OrderBook::execute_at(int32_t idx, int64_t order_id, int64_t qty, int64_t ts) {
  begin_command();
  if (idx < 0) return reject(order_id, ErrorCode::UnknownOrder);
  if (qty <= 0) return reject(order_id, ErrorCode::NonPositiveQty);
  if (qty > pool_[idx].remaining) return reject(order_id, ErrorCode::QtyExceedsRemaining);
  Result r;
  r.order_id = order_id;
  r.seq = ++seq_;
  Order& o = pool_[idx];
  o.filled += qty;
  const int64_t price = o.price;
  const int64_t account = o.account;
  const int8_t aggressor = static_cast<int8_t>(-o.side);
  r.filled = o.filled;
  take(idx, qty);
  r.remaining = pool_[idx].remaining;
  r.status = r.remaining == 0 ? Status::Filled : Status::PartiallyFilled;
  ++seq_;
  record(Fill{seq_, order_id, 0, price, qty, account, 0, ts, aggressor});
  return r;
}

Result OrderBook::modify(int64_t order_id, int64_t price, int64_t qty, int64_t ts) {
  begin_command();
  const int32_t idx = ids_.find(order_id);
  if (idx < 0) return reject(order_id, ErrorCode::UnknownOrder);
  Order& o = pool_[idx];
  const int64_t new_price = price == kKeep ? o.price : price;
  const int64_t new_qty = qty == kKeep ? o.remaining : qty;
  if (new_price <= 0) return reject(order_id, ErrorCode::NonPositivePrice);
  if (new_qty <= 0) return reject(order_id, ErrorCode::NonPositiveQty);
  Result r;
  r.order_id = order_id;
  if (new_price == o.price && new_qty <= o.remaining) {
    if (new_qty < o.remaining) {
      o.qty -= o.remaining - new_qty;
      take(idx, o.remaining - new_qty);
    }
    r.seq = ++seq_;
    r.filled = o.filled;
    r.remaining = o.remaining;
    r.status = o.filled ? Status::PartiallyFilled : Status::New;
    return r;
  }
  const bool cross = crosses(o.side, new_price);
  if (cross && o.tif == kPostOnly) return reject(order_id, ErrorCode::PostOnlyWouldCross);
  r.seq = ++seq_;
  // leave the book: take() frees the slot, so keep a copy to re-enter with
  Order moved = o;
  take(idx, o.remaining);
  const int32_t nidx = new_order();
  moved.price = new_price;
  moved.qty = moved.filled + new_qty;
  moved.remaining = new_qty;
  moved.ts = ts;
  pool_[nidx] = moved;
  bool stopped = false;
  if (cross) stopped = match(nidx, true, new_price, ts);
  Order& n = pool_[nidx];
  r.filled = n.filled;
  if (stopped || n.remaining == 0) {
    r.status = stopped ? Status::Canceled : Status::Filled;
    r.reason = stopped ? ErrorCode::SelfTrade : ErrorCode::Ok;
    r.remaining = 0;
    free_orders_.push_back(nidx);
    return r;
  }
  r.remaining = n.remaining;
  r.status = n.filled ? Status::PartiallyFilled : Status::New;
  rest(nidx);
  return r;
}

bool OrderBook::best(int side, int64_t& price, int64_t& size) const {
  const Ladder& lad = ladder(side);
  if (lad.empty()) return false;
  price = lad.back().first;
  size = levels_[lad.back().second].total;
  return true;
}

size_t OrderBook::top(int side, size_t depth, int64_t* prices, int64_t* sizes,
                      int32_t* counts) const {
  const Ladder& lad = ladder(side);
  const size_t n = std::min(depth, lad.size());
  for (size_t k = 0; k < n; ++k) {
    const auto& e = lad[lad.size() - 1 - k];
    if (prices) prices[k] = e.first;
    if (sizes) sizes[k] = levels_[e.second].total;
    if (counts) counts[k] = levels_[e.second].count;
  }
  return n;
}

int64_t OrderBook::depth_at(int side, int64_t price) const {
  const int32_t lvl = price > 0 ? level_ids_.find(level_key(side, price)) : -1;
  return lvl < 0 ? 0 : levels_[lvl].total;
}

void OrderBook::orders_at(int side, int64_t price, std::vector<RestingView>& out) const {
  out.clear();
  const int32_t lvl = price > 0 ? level_ids_.find(level_key(side, price)) : -1;
  if (lvl < 0) return;
  for (int32_t m = levels_[lvl].head; m >= 0; m = pool_[m].next)
    out.push_back({pool_[m].id, pool_[m].remaining, pool_[m].account});
}

ErrorCode OrderBook::restore_order(int64_t order_id, int64_t side, int64_t price, int64_t qty,
                                   int64_t remaining, int64_t filled, int64_t account,
                                   int64_t order_type, int64_t tif, int64_t stp, int64_t ts) {
  if (order_id <= 0) return ErrorCode::InvalidOrderId;
  if (ids_.find(order_id) >= 0) return ErrorCode::DuplicateOrderId;
  if (side != kBuy && side != kSell) return ErrorCode::InvalidField;
  if (price <= 0) return ErrorCode::NonPositivePrice;
  if (remaining <= 0 || qty < remaining || filled < 0) return ErrorCode::NonPositiveQty;
  if (order_type != 0 || tif < 0 || tif > 3 || stp < 0 || stp > 3) return ErrorCode::InvalidField;
  // a resting order never crosses the other side
  if (crosses(static_cast<int>(side), price)) return ErrorCode::InvalidField;
  const int32_t idx = new_order();
  pool_[idx] = Order{order_id, account, price, qty, remaining, filled, ts, -1, -1, -1,
                     static_cast<int8_t>(side), 0, static_cast<uint8_t>(tif),
                     static_cast<uint8_t>(stp)};
  rest(idx);
  return ErrorCode::Ok;
}

void OrderBook::restore_history(int64_t seq, const std::vector<Fill>& fills) {
  seq_ = seq;
  history_.clear();
  history_head_ = 0;
  for (const Fill& f : fills) record(f);
  last_fills_.clear();
}

void OrderBook::all_orders(std::vector<const Order*>& out) const {
  out.clear();
  for (int side : {kBuy, kSell}) {
    const Ladder& lad = ladder(side);
    for (auto it = lad.rbegin(); it != lad.rend(); ++it)
      for (int32_t m = levels_[it->second].head; m >= 0; m = pool_[m].next)
        out.push_back(&pool_[m]);
  }
}

void OrderBook::fills(std::vector<Fill>& out) const {
  out.clear();
  out.reserve(history_.size());
  const bool ring_full =
      history_cap_ > 0 && history_.size() == static_cast<size_t>(history_cap_);
  const size_t start = ring_full ? history_head_ : 0;
  for (size_t k = 0; k < history_.size(); ++k)
    out.push_back(history_[(start + k) % history_.size()]);
}

}  // namespace makerkit
