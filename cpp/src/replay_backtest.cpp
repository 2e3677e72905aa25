#include "makerkit/replay_backtest.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace makerkit {

namespace {
constexpr int64_t kInf = std::numeric_limits<int64_t>::max();
}

ReplayBacktest::ReplayBacktest(const ReplayConfig& cfg, const ReplayColumns& events)
    : cfg_(cfg), ev_(events) {
  if (cfg_.roi_hi < cfg_.roi_lo) throw std::invalid_argument("roi_hi < roi_lo");
  const auto width = static_cast<size_t>(cfg_.roi_hi - cfg_.roi_lo + 1);
  bids_.assign(width, 0);
  asks_.assign(width, 0);
  best_bid_ = cfg_.roi_lo - 1;
  best_ask_ = cfg_.roi_hi + 1;
  next_decision_ = cfg_.start_ns;
}

bool ReplayBacktest::best(int side, int64_t& price, int64_t& qty) const {
  if (side > 0) {
    if (best_bid_ < cfg_.roi_lo) return false;
    price = best_bid_;
  } else {
    if (best_ask_ > cfg_.roi_hi) return false;
    price = best_ask_;
  }
  qty = level(side, price);
  return true;
}

size_t ReplayBacktest::top(int side, size_t n, int64_t* prices, int64_t* qtys) const {
  size_t k = 0;
  if (side > 0) {
    for (int64_t p = best_bid_; p >= cfg_.roi_lo && k < n; --p) {
      const int64_t q = level(1, p);
      if (q > 0) prices[k] = p, qtys[k++] = q;
    }
  } else {
    for (int64_t p = best_ask_; p <= cfg_.roi_hi && k < n; ++p) {
      const int64_t q = level(-1, p);
      if (q > 0) prices[k] = p, qtys[k++] = q;
    }
  }
  return k;
}

int64_t ReplayBacktest::depth_at(int side, int64_t price) const {
  return in_roi(price) ? level(side, price) : 0;
}

void ReplayBacktest::set_level(int side, int64_t price, int64_t qty) {
  level(side, price) = qty;
  if (side > 0) {
    if (qty > 0 && price > best_bid_) {
      best_bid_ = price;
    } else if (qty == 0 && price == best_bid_) {
      while (best_bid_ >= cfg_.roi_lo && level(1, best_bid_) == 0) --best_bid_;
    }
  } else {
    if (qty > 0 && price < best_ask_) {
      best_ask_ = price;
    } else if (qty == 0 && price == best_ask_) {
      while (best_ask_ <= cfg_.roi_hi && level(-1, best_ask_) == 0) ++best_ask_;
    }
  }
}

void ReplayBacktest::notify(int kind, const Order& o, int64_t price, int64_t qty, int64_t ts,
                            bool maker) {
  const int64_t lag = std::max<int64_t>(0, cfg_.order_latency_ns - cfg_.feed_latency_ns);
  notices_.push_back({ts + lag, ts, o.id, price, qty, o.left, kind, o.side, maker ? 1 : 0});
}

void ReplayBacktest::fill(size_t k, int64_t price, int64_t qty, bool maker, int64_t ts) {
  Order& o = orders_[k];
  o.left -= qty;
  finished_ = finished_ || o.left <= 0;
  position_ += o.side * qty;
  cash_ -= o.side * qty * price;
  fees_ += (maker ? cfg_.maker_fee : cfg_.taker_fee) * static_cast<double>(price) *
           static_cast<double>(qty);
  fill_ts.push_back(ts);
  fill_order.push_back(o.id);
  fill_side.push_back(o.side);
  fill_price.push_back(price);
  fill_qty.push_back(qty);
  fill_maker.push_back(maker ? 1 : 0);
  notify(kNoticeFill, o, price, qty, ts, maker);
}

void ReplayBacktest::remove_done() {
  finished_ = false;
  orders_.erase(std::remove_if(orders_.begin(), orders_.end(),
                               [](const Order& o) { return o.left <= 0; }),
                orders_.end());
}

void ReplayBacktest::apply_l3(const ReplayEvent& e) {
  const int side = e.side;
  if (e.kind != kEvHidden) {
    if (!in_roi(e.price)) {
      ++ignored_;
      return;
    }
    const int64_t old = level(side, e.price);
    set_level(side, e.price,
              e.kind == kEvAdd ? old + e.qty : std::max<int64_t>(old - e.qty, 0));
  }
  int64_t avail = e.qty;
  if (e.kind == kEvAdd) {
    // an order arriving through our quote on the other side would have traded with us first
    for (size_t k = 0; k < orders_.size() && avail > 0; ++k) {
      const Order& o = orders_[k];
      if (o.side == side || o.left <= 0) continue;
      if (o.side > 0 ? e.price > o.price : e.price < o.price) continue;
      const int64_t x = std::min(o.left, avail);
      avail -= x;
      fill(k, o.price, x, true, e.ts);
    }
    return;
  }
  for (size_t k = 0; k < orders_.size(); ++k) {
    Order& o = orders_[k];
    if (o.side != side || o.left <= 0) continue;
    if (e.price == o.price) {
      if (e.kind != kEvHidden && e.ref < o.since) {  // an order ahead of ours left
        o.ahead = std::max(o.ahead - static_cast<double>(e.qty), 0.0);
        continue;
      }
      if (e.kind == kEvCancel) continue;  // behind us: changes nothing for us
      if (o.ahead > 0.0) {
        ++fifo_exceptions_;
        continue;
      }
    } else if (e.kind == kEvCancel || (side > 0 ? e.price > o.price : e.price < o.price)) {
      continue;  // another level, or a better price the aggressor took before ours
    }
    if (avail <= 0) break;
    const int64_t x = std::min(o.left, avail);
    avail -= x;
    fill(k, o.price, x, true, e.ts);
  }
}

void ReplayBacktest::apply_event(const ReplayEvent& e) {
  const int side = e.side;
  if (e.kind >= kEvAdd) {
    apply_l3(e);
    return;
  }
  if (e.kind == kEvDepth) {
    if (!in_roi(e.price)) {
      ++ignored_;
      return;
    }
    const int64_t old = level(side, e.price);
    set_level(side, e.price, e.qty);
    for (Order& o : orders_) {
      if (o.side != side || o.price != e.price) continue;
      const int64_t net = old - e.qty - o.traded;
      if (net > 0 && cfg_.queue_model == 1) {
        const double front = o.ahead;
        const double back = std::max(static_cast<double>(old - o.traded) - front, 0.0);
        double ff = front, fb = back;
        if (cfg_.queue_power != 1.0) {
          ff = std::pow(front, cfg_.queue_power);
          fb = std::pow(back, cfg_.queue_power);
        }
        if (ff + fb > 0.0) o.ahead = front - static_cast<double>(net) * (ff / (ff + fb));
      }
      o.traded = 0;
      o.ahead = std::max(std::min(o.ahead, static_cast<double>(e.qty)), 0.0);
    }
    // the other side moved through one of our quotes: it would have traded with us
    for (size_t k = 0; k < orders_.size(); ++k) {
      const Order& o = orders_[k];
      if (o.side == side || o.left <= 0) continue;
      const bool crossed = o.side > 0 ? (best_ask_ <= cfg_.roi_hi && best_ask_ <= o.price)
                                      : (best_bid_ >= cfg_.roi_lo && best_bid_ >= o.price);
      if (crossed) fill(k, o.price, o.left, true, e.ts);
    }
    return;
  }
  if (e.kind == kEvClear) {
    const int64_t a = std::max(std::min(e.price, e.qty) + 1, cfg_.roi_lo);
    const int64_t b = std::min(std::max(e.price, e.qty) - 1, cfg_.roi_hi);
    for (int64_t p = a; p <= b; ++p)
      if (level(side, p) != 0) set_level(side, p, 0);
    for (Order& o : orders_)
      if (o.side == side && o.price >= a && o.price <= b) o.ahead = 0.0;
    return;
  }
  // a trade: the aggressor's side is `side`. Every level it went through is gone,
  // whatever the (possibly later) depth stream says yet.
  if (cfg_.clear_on_trade && side < 0) {
    while (best_bid_ >= cfg_.roi_lo && best_bid_ > e.price) set_level(1, best_bid_, 0);
  } else if (cfg_.clear_on_trade) {
    while (best_ask_ <= cfg_.roi_hi && best_ask_ < e.price) set_level(-1, best_ask_, 0);
  }
  for (size_t k = 0; k < orders_.size(); ++k) {
    Order& o = orders_[k];
    if (o.side != -side || o.left <= 0) continue;
    const bool through = side > 0 ? e.price > o.price : e.price < o.price;
    if (through) {
      fill(k, o.price, o.left, true, e.ts);
    } else if (e.price == o.price) {
      o.traded += e.qty;
      const double avail = static_cast<double>(e.qty) - o.ahead;
      if (avail > 0.0) {
        o.ahead = 0.0;
        const int64_t x = std::min(o.left, static_cast<int64_t>(std::floor(avail)));
        if (x > 0) fill(k, o.price, x, true, e.ts);
      } else {
        o.ahead = -avail;
      }
    }
  }
}

void ReplayBacktest::apply_command(const Command& c) {
  if (c.side == 0) {
    for (Order& o : orders_) {
      if (o.id != c.order_id) continue;
      const int64_t left = o.left;
      o.left = 0;
      notify(kNoticeCanceled, o, o.price, left, c.arrive, false);
      break;
    }
    return;
  }
  orders_.push_back({c.order_id, c.price, c.qty, 0.0, 0, c.side, static_cast<int64_t>(base_ + i_)});
  const size_t k = orders_.size() - 1;
  const bool cross = c.side > 0 ? (best_ask_ <= cfg_.roi_hi && c.price >= best_ask_)
                                : (best_bid_ >= cfg_.roi_lo && c.price <= best_bid_);
  if (cross) {
    if (cfg_.post_only && !c.immediate) {
      ++rejected_;
      reject_ts.push_back(c.arrive);
      reject_side.push_back(c.side);
      Order& o = orders_[k];
      const int64_t left = o.left;
      o.left = 0;
      notify(kNoticeRejected, o, o.price, left, c.arrive, false);
      return;
    }
    // take what the book shows up to our limit (no market impact: the book is the record)
    if (c.side > 0) {
      const int64_t stop = std::min(c.price, cfg_.roi_hi);
      for (int64_t p = best_ask_; p <= stop && orders_[k].left > 0; ++p) {
        const int64_t q = level(-1, p);
        if (q > 0) fill(k, p, std::min(orders_[k].left, q), false, c.arrive);
      }
    } else {
      const int64_t stop = std::max(c.price, cfg_.roi_lo);
      for (int64_t p = best_bid_; p >= stop && orders_[k].left > 0; --p) {
        const int64_t q = level(1, p);
        if (q > 0) fill(k, p, std::min(orders_[k].left, q), false, c.arrive);
      }
    }
  }
  Order& o = orders_[k];
  if (c.immediate) {  // it never rests: the rest is canceled where it arrived
    if (o.left > 0) {
      const int64_t left = o.left;
      o.left = 0;
      notify(kNoticeCanceled, o, o.price, left, c.arrive, false);
    }
    return;
  }
  o.ahead = static_cast<double>(depth_at(o.side, o.price));
}

void ReplayBacktest::submit(int64_t order_id, int side, int64_t price, int64_t qty) {
  const int64_t arrive = now_ + cfg_.feed_latency_ns + cfg_.order_latency_ns;
  cmds_.push_back({arrive, order_id, price, qty, side});
}

void ReplayBacktest::take(int64_t order_id, int side, int64_t price, int64_t qty) {
  const int64_t arrive = now_ + cfg_.feed_latency_ns + cfg_.order_latency_ns;
  cmds_.push_back({arrive, order_id, price, qty, side, true});
}

void ReplayBacktest::cancel(int64_t order_id) {
  const int64_t arrive = now_ + cfg_.feed_latency_ns + cfg_.order_latency_ns;
  cmds_.push_back({arrive, order_id, 0, 0, 0});
}

std::vector<Notice> ReplayBacktest::take_notices() {
  std::vector<Notice> out;
  while (notice_head_ < notices_.size() && notices_[notice_head_].visible <= now_) {
    forget_done(notices_[notice_head_]);  // the managed quotes learn of it too
    out.push_back(notices_[notice_head_++]);
  }
  if (notice_head_ == notices_.size()) {
    notices_.clear();
    notice_head_ = 0;
  }
  return out;
}

void ReplayBacktest::seen(int64_t& position, int64_t& cash, double& fees) const {
  position = position_;
  cash = cash_;
  fees = fees_;
  // notices are made in time order with one lag, so the unseen ones are the newest
  for (size_t k = notices_.size(); k > notice_head_; --k) {
    const Notice& n = notices_[k - 1];
    if (n.visible <= now_) break;
    if (n.kind != kNoticeFill) continue;
    position -= n.side * n.qty;
    cash += n.side * n.qty * n.price;
    fees -= (n.maker ? cfg_.maker_fee : cfg_.taker_fee) * static_cast<double>(n.price) *
            static_cast<double>(n.qty);
  }
}

void ReplayBacktest::set_strategy(const NativeStrategy& s) {
  strat_ = s;
  next_id_ = 1LL << 40;  // far from any id the Python side chose
}

void ReplayBacktest::set_manager(const NativeStrategy& s) {
  strat_ = s;
  strat_.kind = 0;  // run() returns at decisions: the strategy decides outside
  next_id_ = 1LL << 40;
}

void ReplayBacktest::forget_done(const Notice& n) {
  Live& l = live_[n.side > 0 ? 0 : 1];
  if (n.left == 0 && l.on && l.id == n.order_id) l.on = false;
}

void ReplayBacktest::apply_quotes(int64_t bid_price, int64_t bid_size, int64_t ask_price,
                                  int64_t ask_size, bool record) {
  // what the strategy has not taken with notices() it learns of now (decide() does the same)
  while (notice_head_ < notices_.size() && notices_[notice_head_].visible <= now_)
    forget_done(notices_[notice_head_++]);
  if (notice_head_ == notices_.size()) {
    notices_.clear();
    notice_head_ = 0;
  }
  const int64_t intent[4] = {bid_price, bid_size, ask_price, ask_size};
  plan(intent, record);
}

// _quotes(): floor the bid, ceil the ask, never cross ourselves, respect max_position.
void ReplayBacktest::quotes(double bid, double ask, int64_t q, int64_t out[4]) const {
  const int64_t b = static_cast<int64_t>(std::floor(bid));
  int64_t a = static_cast<int64_t>(std::ceil(ask));
  if (a <= b) a = b + 1;
  const int64_t size = strat_.size, mp = strat_.max_position;
  const bool room_long = mp < 0 || q + size <= mp;
  const bool room_short = mp < 0 || q - size >= -mp;
  const bool bid_ok = room_long && b > 0;
  out[0] = bid_ok ? b : -1;  // -1: not quoted
  out[1] = bid_ok ? size : 0;
  out[2] = room_short ? a : -1;
  out[3] = room_short ? size : 0;
}

void ReplayBacktest::decide(int reason) {
  // the notices the strategy learns of now (built-ins keep no state on fills)
  while (notice_head_ < notices_.size() && notices_[notice_head_].visible <= now_)
    forget_done(notices_[notice_head_++]);
  if (notice_head_ == notices_.size()) {
    notices_.clear();
    notice_head_ = 0;
  }
  if (reason == kRunNotice && !cfg_.wake_on_fill) return;
  int64_t touch[4] = {0, 0, 0, 0};  // bid, its size, ask, its size: each side may be empty
  const bool sides[2] = {best(1, touch[0], touch[1]), best(-1, touch[2], touch[3])};
  const int64_t bp = touch[0], ap = touch[2];
  const bool both_sides = sides[0] && sides[1];
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double m = both_sides ? static_cast<double>(bp + ap) / 2 : nan;
  int64_t q = 0, cash = 0;  // the strategy quotes from what it has been told
  double fees = 0.0;
  seen(q, cash, fees);
  int64_t intent[4] = {-1, 0, -1, 0};
  if (strat_.kind == 5) {  // a compiled strategy: asked on every decision, one-sided books too
    const double money = static_cast<double>(cash) - fees;
    const double pnl = both_sides ? money + static_cast<double>(q * (bp + ap)) / 2 : money;
    if (!kernel_quotes(touch, sides, q, pnl, intent)) {  // it failed: pull everything, stop
      const int64_t none[4] = {-1, 0, -1, 0};
      plan(none, true);
      return;
    }
    plan(intent, reason == kRunDecision);
    return;
  }
  if (both_sides) {
    const double* p = strat_.p;
    const double qd = static_cast<double>(q);
    switch (strat_.kind) {
      case 1:
        quotes(m - p[0], m + p[0], q, intent);
        break;
      case 2: {
        const double r = m - 2 * p[1] * qd;
        quotes(r - p[0], r + p[0], q, intent);
        break;
      }
      case 3: {  // gamma, k, sigma, horizon
        const double var_tau = std::pow(p[2], 2.0) * p[3];
        const double r = m - qd * p[0] * var_tau;
        const double d = p[0] * var_tau + (2 / p[0]) * std::log(1 + p[0] / p[1]);
        quotes(r - d / 2, r + d / 2, q, intent);
        break;
      }
      default: {  // GLFT: gamma, A, k, sigma
        const double g = p[0], k = p[2];
        const double c1 = std::log(1 + g / k) / g;
        const double c2 =
            std::sqrt(std::pow(p[3], 2.0) * g / (2 * p[1] * k) * std::pow(1 + g / k, 1 + k / g));
        const double bid = m - c1 - static_cast<double>(2 * q + 1) / 2 * c2;
        const double ask = m + c1 - static_cast<double>(2 * q - 1) / 2 * c2;
        quotes(bid, ask, q, intent);
      }
    }
  }
  plan(intent, reason == kRunDecision);
}

// The view of a compiled strategy, its call, and its quotes as makerkit/strategies/_kernel.py
// reads them (quote_from_out): a side is quoted when its size is >= 1 and its price a number;
// bids are floored, asks ceiled, a price must be > 0, the ask stays above the bid; an
// infinite or huge (>= 2^53) price or size is an error. False: it stopped (kernel_status).
bool ReplayBacktest::kernel_quotes(const int64_t touch[4], const bool sides[2], int64_t q,
                                   double pnl, int64_t intent[4]) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const bool hb = sides[0], ha = sides[1];
  const double view[kViewSize] = {
      static_cast<double>(now_) / 1e9,
      hb ? static_cast<double>(touch[0]) : nan,
      static_cast<double>(touch[1]),
      ha ? static_cast<double>(touch[2]) : nan,
      static_cast<double>(touch[3]),
      hb && ha ? static_cast<double>(touch[0] + touch[2]) / 2 : nan,
      static_cast<double>(q),
      pnl,
      nan};  // no prediction inside the core
  double out[kKernelOutSize] = {nan, nan, nan, nan};
  if (strat_.kernel(view, strat_.kernel_params, strat_.kernel_state, out) != 1) {
    kernel_status_ = kKernelRaised;
    return false;
  }
  constexpr double kHuge = 9007199254740992.0;  // 2^53: past it a double is no integer count
  for (int s = 0; s < 2; ++s) {
    const double price = out[2 * s], size = out[2 * s + 1];
    intent[2 * s] = -1;
    intent[2 * s + 1] = 0;
    if (std::isnan(size) || size < 1) continue;
    if (!(size < kHuge)) {
      kernel_status_ = 2 * s + 2;
      kernel_bad_value_ = size;
      return false;
    }
    if (std::isnan(price)) continue;
    if (!(std::fabs(price) < kHuge)) {
      kernel_status_ = 2 * s + 1;
      kernel_bad_value_ = price;
      return false;
    }
    const int64_t p = static_cast<int64_t>(s == 0 ? std::floor(price) : std::ceil(price));
    if (p <= 0) continue;
    intent[2 * s] = p;
    intent[2 * s + 1] = static_cast<int64_t>(std::floor(size));
  }
  if (intent[0] >= 0 && intent[2] >= 0 && intent[2] <= intent[0]) intent[2] = intent[0] + 1;
  return true;
}

// OrderManager.plan_one for both sides, then (when asked) a path row.
void ReplayBacktest::plan(const int64_t intent[4], bool record) {
  for (int s = 0; s < 2; ++s) {
    const int side = s == 0 ? 1 : -1;
    const int64_t price = intent[2 * s];
    int64_t size = intent[2 * s + 1];
    if (strat_.max_order_size >= 0) size = std::min(size, strat_.max_order_size);
    Live& cur = live_[s];
    const bool wanted = price >= 0 && size > 0;
    if (cur.on) {
      if (wanted) {
        const bool close = std::llabs(cur.price - price) <= strat_.price_tolerance &&
                           std::llabs(cur.size - size) <= strat_.size_tolerance;
        const bool young = now_ - cur.placed < strat_.min_quote_life_ns;
        if (close || young) continue;
      }
      cancel(cur.id);
      cur.on = false;
    }
    if (wanted) {
      ++next_id_;
      ++placed_;
      submit(next_id_, side, price, size);
      cur = {next_id_, price, size, now_, true};
    }
  }
  int64_t bp = 0, bq = 0, ap = 0, aq = 0;
  if (record && best(1, bp, bq) && best(-1, ap, aq)) {
    const double m = static_cast<double>(bp + ap) / 2;
    const double cash = static_cast<double>(cash_) - fees_;  // the path records the account
    const double nan = std::numeric_limits<double>::quiet_NaN();
    path_ts.push_back(now_);
    path_mid.push_back(m);
    path_position.push_back(static_cast<double>(position_));
    path_equity.push_back(cash + static_cast<double>(position_) * m);
    path_bid.push_back(live_[0].on ? static_cast<double>(live_[0].price) : nan);
    path_ask.push_back(live_[1].on ? static_cast<double>(live_[1].price) : nan);
    path_both.push_back(live_[0].on && live_[1].on ? 1.0 : 0.0);
  }
}

int64_t ReplayBacktest::visible_notices() const {
  int64_t n = 0;
  for (size_t k = notice_head_; k < notices_.size() && notices_[k].visible <= now_; ++k) ++n;
  return n;
}

int ReplayBacktest::run(int64_t budget) {
  if (kernel_status_ != kKernelOk) return kRunStopped;
  for (;;) {
    if (i_ >= ev_.n && refill_ && !stream_done_) {  // a stream: the next chunk comes first
      // refill_ stays set at the end: it owns the last chunk, which ev_ still points into
      stream_done_ = !refill_();
      continue;
    }
    const int64_t t_ev = i_ < ev_.n ? ev_.ts[i_] : kInf;
    const int64_t t_cmd = cmd_head_ < cmds_.size() ? cmds_[cmd_head_].arrive : kInf;
    if (cfg_.wake_on_fill) {  // only fills wake the strategy; other notices wait for a decision
      size_t k = notice_head_;
      while (k < notices_.size() && notices_[k].kind != kNoticeFill) ++k;
      if (k < notices_.size()) {
        const int64_t t_note = notices_[k].visible;
        if (t_note <= t_ev && t_note <= t_cmd && t_note <= next_decision_) {
          now_ = std::max(now_, t_note);
          if (strat_.kind == 0) return kRunNotice;
          decide(kRunNotice);
          if (kernel_status_ != kKernelOk) return kRunStopped;
          continue;
        }
      }
    }
    if (t_cmd <= t_ev && t_cmd <= next_decision_) {
      apply_command(cmds_[cmd_head_++]);
      if (cmd_head_ == cmds_.size()) {
        cmds_.clear();
        cmd_head_ = 0;
      }
      remove_done();
      continue;
    }
    if (i_ >= ev_.n) {
      if (ev_.n > 0) now_ = std::max(now_, ev_.ts[ev_.n - 1]);
      return kRunEnd;
    }
    if (next_decision_ < t_ev) {
      now_ = next_decision_;
      next_decision_ += cfg_.decision_ns;
      if (strat_.kind == 0) return kRunDecision;
      decide(kRunDecision);
      if (kernel_status_ != kKernelOk) return kRunStopped;
      continue;
    }
    if (budget <= 0) return kRunBudget;
    --budget;
    apply_event(ev_[i_++]);
    if (finished_) remove_done();  // only a fill finishes an order during an event
  }
}

}  // namespace makerkit
